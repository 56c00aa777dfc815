"""When the benchmark's faults happen: each at a random point of its phase's work (seeded), as the phase reports
its progress.

The faults themselves are `scheduling.faults`' (the fault tests' helpers): `outage`, `replay`, `PrivatePostgres`
and the stack's own `kill_worker` / `restart_worker`. A run does not know beforehand how long a phase takes, so a
fault is not due at a time but at a fraction of its phase's work, drawn at random: the phase calls
`tick(phase, done, total)` as it goes, and a fault that comes due runs on a thread of its own, so that the load
never waits for it. `finish(phase)` fires what its phase's work ended before (a fault is never skipped) and waits
for the faults of that phase. Each fault records when it fired and what it did, for the report.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Fault", "FaultPlan"]


@dataclass
class Fault:
    name: str
    phase: str
    at_fraction: float
    action: Callable[[], str]
    fired_at: float | None = None   # time.time()
    outcome: str = ""


@dataclass
class FaultPlan:
    """The run's faults (see the module docstring)."""

    faults: list[Fault] = field(default_factory=list)
    threads: list[tuple[str, threading.Thread]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, phase: str, action: Callable[[], str], *, rng: random.Random,
            between: tuple[float, float] = (0.15, 0.85)) -> None:
        self.faults.append(Fault(name, phase, rng.uniform(*between), action))

    def tick(self, phase: str, done: int, total: int) -> None:
        fraction = done / max(total, 1)
        with self.lock:
            due = [f for f in self.faults if f.phase == phase and f.fired_at is None and fraction >= f.at_fraction]
            for f in due:
                f.fired_at = time.time()
        for f in due:
            t = threading.Thread(target=self._fire, args=(f,), daemon=True, name=f"fault-{f.name}")
            with self.lock:
                self.threads.append((phase, t))
            t.start()

    def finish(self, phase: str, *, wait: Callable[[threading.Thread], None] | None = None) -> None:
        """Fire the faults of `phase` not fired yet, and wait for every fault of that phase (through `wait`, which
        must join the thread, so that the caller can do its own work meanwhile)."""
        self.tick(phase, 1, 1)
        with self.lock:
            threads = [t for p, t in self.threads if p == phase]
        for t in threads:
            (wait or (lambda thread: thread.join(timeout=300)))(t)

    @staticmethod
    def _fire(fault: Fault) -> None:
        try:
            fault.outcome = fault.action()
        except Exception as e:  # noqa: BLE001 - a fault that could not be staged says so in the report
            fault.outcome = f"could not be staged: {type(e).__name__}: {e}"
