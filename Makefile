# The README's two commands: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgres://postgres@127.0.0.1:5432/loopwise

.PHONY: venv run test lint bench

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

venv: $(BIN)/python requirements.txt
	$(BIN)/pip install -q -r requirements.txt

run: venv
	$(BIN)/python scripts/run.py

test: venv
	DATABASE_URL=$${DATABASE_URL:-$(PG_URL)} LOOPWISE_ENV=test $(BIN)/python -m pytest -n 2 --timeout=300 --durations=25 $(ARGS)

lint: venv
	$(BIN)/ruff check .
