"""The full browser matrix (issue 11) stays out of the suite: the API-level scenario's Chromium runs are collected
only with LOOPWISE_BROWSER_MATRIX=1, which `manage.py bench_morning --browser-matrix` sets; its report reads pytest's
JUnit XML (`matrix_rows`). The runs themselves are not started here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scheduling.management.commands.bench_morning import MATRIX_TESTS, matrix_rows

ROOT = Path(__file__).resolve().parents[2]
TEST = "tests/e2e/test_acceptance_api.py::test_the_scenario_runs_end_to_end_over_http"
PAIRS = ["microsoft+greenhouse", "google+lever", "google+icims-datastream-down", "google+jobvite"]


def _collected(*args: str, matrix: bool) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "LOOPWISE_BROWSER_MATRIX"}
    if matrix:
        env["LOOPWISE_BROWSER_MATRIX"] = "1"
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *args, *MATRIX_TESTS], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_the_suite_collects_the_http_runs_and_the_one_whole_flow_in_chromium():
    assert _collected(matrix=False) == [
        "tests/e2e/test_acceptance_browser.py::test_one_recruiting_team_lives_the_whole_flow_in_the_browser",
        *(f"{TEST}[{pair}]" for pair in PAIRS)]


def test_the_matrix_adds_a_chromium_run_for_every_pair():
    assert _collected("-m", "browser", matrix=True) == [
        "tests/e2e/test_acceptance_browser.py::test_one_recruiting_team_lives_the_whole_flow_in_the_browser",
        *(f"{TEST}[{pair}-browser]" for pair in PAIRS)]


def test_the_report_has_one_row_per_pair_with_its_outcome_and_time():
    report = f"""<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
    <testcase classname="tests.e2e.test_acceptance_browser"
      name="test_one_recruiting_team_lives_the_whole_flow_in_the_browser" time="61.5" />
    <testcase classname="tests.e2e.test_acceptance_api" name="{TEST.split('::')[1]}[google+lever-browser]"
      time="20.25"><failure message="boom">AssertionError</failure></testcase>
    <testcase classname="tests.e2e.test_acceptance_api" name="{TEST.split('::')[1]}[google+jobvite-browser]"
      time="0.01"><skipped message="no Jobvite adapter or fake yet" /></testcase>
    </testsuite></testsuites>"""
    assert matrix_rows(report) == [("google+greenhouse (whole flow)", "passed", 61.5),
                                   ("google+lever", "failed", 20.25), ("google+jobvite", "skipped", 0.01)]
