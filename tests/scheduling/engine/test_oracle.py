"""The solver against a brute-force oracle on small generated problems (tests/scheduling/engine/oracle.py)."""

from __future__ import annotations

import copy
import json
from itertools import combinations

from hypothesis import HealthCheck, given, settings

from scheduling.engine import check, solve

from .oracle import Oracle, instant
from .strategies import crowded_problems, open_problems, problems

SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def load_balance_violations(oracle: Oracle, option: dict) -> list[str]:
    """Swaps of a chosen person for an unused person of the same pool that keep the option valid and
    give a smaller (week booked, id)."""
    out = []
    used = {rid for s in option["sessions"] for role in s["roles"] for rid in role}
    specs = {s["id"]: s for s in oracle.sessions}
    for i, s in enumerate(option["sessions"]):
        start = instant(s["start"])
        for j, held in enumerate(s["roles"]):
            for p in held:
                if oracle.is_room(p):
                    continue
                for q in specs[s["id"]]["roles"][j]["pool"]:
                    if q in used or oracle.is_room(q):
                        continue
                    if (oracle.week_booked(q, start), q) >= (oracle.week_booked(p, start), p):
                        continue
                    swapped = copy.deepcopy(option)
                    swapped["sessions"][i]["roles"][j] = [q if x == p else x for x in held]
                    if not oracle.broken(swapped):
                        out.append(f"{s['id']}: {p} -> {q}")
    return out


def shadow_violations(oracle: Oracle, option: dict) -> list[str]:
    """Empty optional roles that could take `count` members without breaking a rule."""
    out = []
    specs = {s["id"]: s for s in oracle.sessions}
    for i, s in enumerate(option["sessions"]):
        for j, held in enumerate(s["roles"]):
            role = specs[s["id"]]["roles"][j]
            if not role.get("optional") or held:
                continue
            for combo in combinations(role["pool"], role.get("count", 1)):
                filled = copy.deepcopy(option)
                filled["sessions"][i]["roles"][j] = sorted(combo)
                if not oracle.broken(filled):
                    out.append(f"{s['id']} role {j}: {combo}")
                    break
    return out


def assert_matches_oracle(problem: dict) -> None:
    result = solve(copy.deepcopy(problem))
    oracle = Oracle(problem)
    expected = oracle.solve()
    limit = problem["max_options"]
    assert [o["start"] for o in result["options"]] == [o["start"] for _, o in expected][:limit]
    assert result["truncated"] == (len(expected) > limit)
    for option, (_, reference) in zip(result["options"], expected, strict=False):
        assert option == reference  # same ordering rule and same lexicographically first panel


def assert_options_sound(problem: dict) -> None:
    result = solve(copy.deepcopy(problem))
    oracle = Oracle(problem)
    for option in result["options"]:
        assert oracle.broken(option) == []
        assert check(problem, option) == []
        assert load_balance_violations(oracle, option) == []
        assert shadow_violations(oracle, option) == []


@SETTINGS
@given(problems())
def test_it_finds_exactly_the_oracles_starts_and_options(problem):
    assert_matches_oracle(problem)


@SETTINGS
@given(problems())
def test_its_options_keep_every_rule_and_are_balanced_and_filled(problem):
    assert_options_sound(problem)


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(open_problems())
def test_it_matches_the_oracle_when_the_choice_of_people_decides(problem):
    assert_matches_oracle(problem)
    assert_options_sound(problem)


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(crowded_problems())
def test_it_matches_the_oracle_when_people_are_needed_by_several_sessions(problem):
    assert_matches_oracle(problem)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_resources=6, max_sessions=4))
def test_it_gives_byte_identical_output_and_diagnostics_when_empty(problem):
    first = json.dumps(solve(copy.deepcopy(problem)))
    second = json.dumps(solve(json.loads(json.dumps(problem))))
    assert first == second
    result = json.loads(first)
    pooled = {rid for s in problem["sessions"] for r in s["roles"] for rid in r["pool"]}
    unknown = sorted(rid for rid in pooled if problem["resources"][rid].get("calendar_unknown"))
    named = sorted(d["resources"][0] for d in result["diagnostics"] if d["code"] == "calendar_unknown")
    assert named == unknown
    if not result["options"]:
        assert result["diagnostics"], "an empty result must say why"
