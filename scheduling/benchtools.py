"""Small helpers shared by the benchmark commands that start servers on loopback and print percentiles."""

from __future__ import annotations

import socket
import subprocess
import time


class BenchError(RuntimeError):
    """A benchmark could not run (a server did not start); the message says which."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, *, seconds: float = 30, proc: subprocess.Popen | None = None) -> None:
    """Wait until something accepts connections on `port`; fail early when `proc` exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"a subprocess exited early ({proc.args!r}, code {proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"nothing listens on port {port} after {seconds} s")


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank `p`th percentile (NaN for no values)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")
