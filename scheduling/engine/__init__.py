"""The loop solver: every start time a candidate may pick, with the panel that would sit each session.

Pure Python and NumPy: no Django, no database, no network and no clock (`now` comes in the problem).
The contract is shared/engine-contract.md, beside the repository.

    solve(problem) -> {"options": [...], "truncated": bool, "diagnostics": [...]}
    check(problem, option) -> ["one sentence per broken rule", ...]
    ProblemError: bad input, with .field ("sessions[2].roles[0].pool"), .message and .errors

How it works, and why
---------------------
A candidate start is `window.start + k * step`; the engine decides every k at once instead of trying
starts one by one, because a realistic problem has thousands of starts and a recruiter waits for all
of them.

1. `problem.parse_problem` validates the dict once (every field; unknown fields refused at every level)
   into frozen dataclasses. Instants become integers (µs since the epoch). Busy lists, the bulk of a
   problem, are parsed with NumPy in one pass over all resources (instants.py); anything unusual goes
   through `datetime.fromisoformat`, which stays the authority on what is valid.
2. `masks.build_tables` converts, for every resource in some pool, busy intervals to minutes from the
   window start and working hours to instants on each local day, through array zone clocks that read
   local times the way zoneinfo does with fold=0 (zones.py). The loop-level rules (window, notice,
   candidate) pick the candidate starts: the columns.
3. `masks.make_slot` builds, for a session at a given offset into the loop, a boolean matrix (pool
   member x column): busy with buffers, working hours, calendar_unknown, day and week caps. Each rule
   becomes ranges of k, merged into runs and written into the matrix in one pass; the days and weeks a
   resource has filled to its cap become spans of instants once per problem and join the busy ranges.
   Under order "fixed" each session is only looked at where the sessions before it can be staffed.
4. `place.place_loops` staffs all columns at once with the greedy walk (place.py, walk.py), which
   yields the lexicographically first valid assignment and so is load-balanced and shadow-filling by
   construction. The few starts where the walk fails get the exact search of search.py.
5. `render` writes the first `max_options` starts; `diagnose` explains an empty result.

Choices made where the contract is silent
-----------------------------------------
- Which panel, when several are valid: the seats are filled required roles first (sessions in the
  order they run, roles in the order given), then optional roles in the same order; each takes the
  first `count` available members by (`booked` in the member's local ISO week of the session, id), and
  where that choice would leave a later session without anyone, the next one. The result is the first
  valid panel in that order, which is what makes it balanced.
- Rooms are chosen by the same rule, although the contract exempts them from balancing: it spreads room
  use too and keeps the result predictable. A room may host several sessions of one option.
- Order "any": the interviews are permuted over the places that are not breaks, and each start takes
  the first permutation, in lexicographic order of the given session indices, that has a valid option;
  so the order given wins whenever it works.
- A session counts against a cap on the local day and ISO week of its start, like a `booked` start.
- Within a role, the resources that took it are listed by id.
- `busy` may be left out (no busy time). An interval that ends before it starts is an input error; an
  empty one ([t, t)) blocks nothing. `candidate` and its `timezone` are optional.
- Numbers must be JSON integers (15.0 is refused). Limits: step 1 to 1440, max_options 1 to 5000,
  duration 5 to 480, notice, buffer and gap 0 to one year, caps 0 to 10000, count at least 1. A pool
  may not list an id twice; an unknown id in a pool is an input error. Working hours are "HH:MM" (two
  digits), "24:00" only as an end; a range must end after it starts.
- The time zone name "localtime" is refused: it would mean whatever machine runs the engine.
- Instants must fall in the years 1 to 9999 in UTC, and the window between the years 1900 and 2999,
  so that every local-time conversion stays inside what `datetime` can represent.
- Diagnostics come in the contract's code order, then by session (null first), then by resources.
  `calendar_unknown` (one entry per resource) and `pool_too_small` (optional roles too) are always
  given; the others explain an empty result, see diagnose.py.
- solve() pauses Python's cyclic garbage collector while it runs (see `_collector_paused`).

Limits: the exact search is exponential only for capped rooms shared by several sessions; under order
"any", a start that no ordering can staff is usually dropped by the relaxed checks in place.py, but a
problem built so that each of up to 720 orderings fails differently at many starts can still take
seconds.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

from .check import check
from .diagnose import always, explain_empty, sort_entries
from .masks import build_tables
from .place import Planner, place_loops
from .problem import ProblemError, parse_problem
from .render import render

__all__ = ["ProblemError", "check", "solve"]


def solve(problem: dict) -> dict:
    """All options for a problem, per the contract; raises ProblemError on bad input."""
    with _collector_paused():
        spec = parse_problem(problem)
        tables = build_tables(spec)
        found = place_loops(tables, Planner(tables))
        diagnostics = always(spec)
        if not found.by_col:
            diagnostics += explain_empty(tables)
        return render(tables, found, sort_entries(spec, diagnostics))


@contextmanager
def _collector_paused():
    """Pauses Python's cyclic garbage collector (if it runs) for the duration of one solve. A result holds
    tens of thousands of small lists and dicts and no reference cycles; without the pause each
    generation-0 pass walks them again (measured: the large benchmark's rendering takes twice as long).
    Reference counting still frees everything as usual.

    On the way out, the objects made meanwhile are handed to the oldest generation as they are
    (`gc.freeze()` then `gc.unfreeze()`: documented, constant-time moves between the collector's lists)
    instead of being walked once more by the first young collection after the pause, which costs about a
    sixth of the large benchmark's solve. They hold no cycles, so nothing is kept longer; a full
    collection still looks at them. Skipped when the process froze objects of its own (a pre-forking
    server that called `gc.freeze()`), since unfreezing would release those too."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()
