"""`POST /api/v1/solve`: the solver's HTTP door, per the engine contract."""

from __future__ import annotations

import copy
import json

from scheduling.api.views import SOLVE_PROBLEM
from scheduling.engine import solve
from scheduling.engine.bench import make_problem

URL = "/api/v1/solve"


def test_it_answers_what_solve_answers(api):
    response = api("read").post(URL, SOLVE_PROBLEM, format="json")
    assert response.status_code == 200
    assert response.json() == solve(copy.deepcopy(SOLVE_PROBLEM))
    assert [o["start"] for o in response.json()["options"]][:2] == ["2027-02-03T10:00:00Z", "2027-02-03T10:15:00Z"]


def test_it_answers_the_standard_workload_like_solve(api):
    problem = make_problem(7)
    response = api("read").post(URL, problem, format="json")
    assert response.status_code == 200
    assert response.content == json.dumps(solve(make_problem(7)), separators=(",", ":")).encode()


def test_it_names_the_bad_field(api):
    problem = copy.deepcopy(SOLVE_PROBLEM)
    problem["sessions"][0]["duration_minutes"] = 2
    problem["colour"] = "blue"
    response = api("read").post(URL, problem, format="json")
    assert response.status_code == 400
    fields = [e["field"] for e in response.json()["errors"]]
    assert "sessions[0].duration_minutes" in fields or "colour" in fields
    assert all(set(e) == {"field", "message"} and e["message"] for e in response.json()["errors"])


def test_it_refuses_a_body_that_is_not_an_object(api):
    response = api("read").post(URL, [1, 2], format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "(root)"
    response = api("read").post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["errors"][0]["message"].startswith("JSON parse error")


def test_it_answers_413_for_an_oversized_body(api, settings):
    settings.API_SOLVE_MAX_BYTES = 1000
    body = json.dumps({**SOLVE_PROBLEM, "padding": "x" * 2000})
    response = api("read").post(URL, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"errors": [{"field": None, "message": "the problem is over 1000 bytes"}]}


def test_it_needs_a_key(api):
    assert api(None).post(URL, SOLVE_PROBLEM, format="json").status_code == 401
