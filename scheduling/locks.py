"""The one locking helper: named locks held until the end of the current transaction.

On PostgreSQL these are transaction-level advisory locks (`pg_advisory_xact_lock`), taken in
sorted order so that two bookings that share people cannot deadlock. On SQLite, the database
itself has one writer at a time: settings open every transaction with BEGIN IMMEDIATE, so
entering `transaction.atomic()` already serialises writers and there is nothing more to take.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.db import connection, transaction


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (advisory locks take a bigint)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_names(names: Iterable[str]) -> None:
    """Take a lock on each name, in sorted order, until the surrounding transaction ends."""
    if not connection.in_atomic_block:
        raise RuntimeError("lock_names() must be called inside transaction.atomic()")
    if connection.vendor != "postgresql":
        return
    keys = sorted({lock_key(n) for n in names})
    with connection.cursor() as cur:
        for key in keys:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def try_lock_name(name: str) -> bool:
    """Take the lock on `name` if it is free; False when another transaction holds it."""
    if not connection.in_atomic_block:
        raise RuntimeError("try_lock_name() must be called inside transaction.atomic()")
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_key(name)])
        return bool(cur.fetchone()[0])


__all__ = ["lock_key", "lock_names", "try_lock_name", "transaction"]
