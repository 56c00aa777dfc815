"""The result dict: options in chronological order, `truncated`, diagnostics.

Instants are written as UTC with `Z`, all at once with NumPy (options share most of them). A role lists
the resources that took it sorted by id, so the same panel always reads the same way. Options are built
a session position at a time over every option of a batch (columns placed together), which keeps the
Python work to one comprehension per position; every list in the result is its own object.
"""

from __future__ import annotations

import numpy as np

from .instants import MINUTE, SECOND, format_utc
from .masks import Tables
from .place import Found


def render(t: Tables, found: Found, diagnostics: list[dict]) -> dict:
    p = t.problem
    cols = sorted(found.by_col)
    shown = cols[:p.max_options]
    options: list[dict | None] = [None] * len(shown)
    if shown:
        names = [s.id for s in p.sessions]
        bounds = _bounds(t, found, shown)
        batches: dict[int, list[int]] = {}
        for n, col in enumerate(shown):
            batches.setdefault(id(found.by_col[col][1]), []).append(n)
        for ns in batches.values():
            plan, rows, _ = found.by_col[shown[ns[0]]]
            ks = [found.by_col[shown[n]][2] for n in ns]
            at = bounds[ns]
            roles = _role_lists(t.ids, rows, ks)
            positions = []
            for i, idx in enumerate(plan.order):
                starts, ends = at[:, 2 * i].tolist(), at[:, 2 * i + 1].tolist()
                if roles[i]:
                    chosen = zip(*roles[i], strict=True)
                    positions.append([{"id": names[idx], "start": s, "end": e, "roles": list(r)}
                                      for s, e, r in zip(starts, ends, chosen, strict=True)])
                else:
                    positions.append([{"id": names[idx], "start": s, "end": e, "roles": []}
                                      for s, e in zip(starts, ends, strict=True)])
            for n, sessions in zip(ns, zip(*positions, strict=True), strict=True):
                options[n] = {"start": sessions[0]["start"], "end": sessions[-1]["end"], "sessions": list(sessions)}
    return {"options": options, "truncated": len(cols) > p.max_options, "diagnostics": diagnostics}


def _role_lists(ids: list[str], rows: list, ks: list[int]) -> list[list[list]]:
    """For each session position and role of a batch, the ids that took it, for the batch columns ks."""
    out = []
    for session in rows:
        roles = []
        for seat in session:
            if len(ks) != seat.shape[1]:
                seat = seat[:, ks]
            if len(seat) == 1:
                roles.append([[ids[r]] if r >= 0 else [] for r in seat[0].tolist()])
            else:
                roles.append([sorted(ids[r] for r in c if r >= 0) for c in seat.T.tolist()])
        out.append(roles)
    return out


def _bounds(t: Tables, found: Found, shown: list[int]) -> np.ndarray:
    """(options, 2 * sessions) object array: the start and end of each session in run order, as text."""
    p = t.problem
    durations = np.array([s.duration for s in p.sessions])
    starts = t.cols[shown] * p.step
    plans = [found.by_col[c][0] for c in shown]
    if all(plan is plans[0] for plan in plans):  # one ordering (order "fixed", or "any" where it sufficed)
        offsets = np.array(plans[0].offsets)[None, :]
        lengths = durations[np.array(plans[0].order)][None, :]
    else:
        offsets = np.array([plan.offsets for plan in plans])
        lengths = durations[np.array([plan.order for plan in plans])]
    a = starts[:, None] + offsets
    minutes = np.stack([a, a + lengths], axis=2).reshape(len(shown), -1)
    # Distinct minutes through a table over their span (a few weeks of minutes) rather than a sort.
    low = int(minutes.min())
    seen = np.zeros(int(minutes.max()) - low + 1, dtype=bool)
    seen[minutes - low] = True
    unique = np.flatnonzero(seen) + low
    inverse = (np.cumsum(seen) - 1)[minutes - low]
    if p.window_start % SECOND:
        text = [format_utc(p.window_start + int(m) * MINUTE) for m in unique.tolist()]
    else:
        moments = (p.window_start + unique * MINUTE).astype("datetime64[us]")
        text = np.datetime_as_string(moments, unit="s", timezone="UTC").tolist()
    return np.array(text, dtype=object)[inverse]
