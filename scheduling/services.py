"""Scheduling services: writes that span rows, keyword-only and typed (`<entity>_<action>`).

Every state change of a request goes through `request_move`, which moves the row with a conditional UPDATE so
that two workers (or a worker and a coordinator) cannot both win, and logs the move.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import connection, transaction

from scheduling import clock
from scheduling.audit import audit_log
from scheduling.errors import ConcurrentChange, InvalidTransition
from scheduling.fields import EncryptedJSONField, EncryptedTextField, SecretUnreadable, rotate
from scheduling.models import RequestTransition, SchedulingRequest

__all__ = ["request_move", "SecretColumnReport", "secrets_rotate"]


def request_move(*, request: SchedulingRequest, to: str, cause: str, actor=None) -> SchedulingRequest:
    """Move `request` from the state it holds in memory to `to`, and log why.

    Raises InvalidTransition when `SchedulingRequest.TRANSITIONS` forbids the move, and ConcurrentChange when
    the row no longer holds the state the caller saw (someone else moved it first); in both cases nothing is
    written. `cause` says what moved it, without personal data. Returns the same instance, updated.
    """
    old = request.state
    if not request.can_move_to(to):
        raise InvalidTransition(old, to)
    at = clock.now()
    with transaction.atomic():
        won = SchedulingRequest.objects.filter(pk=request.pk, state=old).update(state=to, state_changed_at=at)
        if not won:
            raise ConcurrentChange(request.pk)
        RequestTransition.objects.create(request=request, old_state=old, new_state=to, cause=cause[:200],
                                         actor=actor, at=at)
        audit_log(action="request.moved", obj=request, actor=actor, summary=f"{old} -> {to}: {cause}")
    request.state = to
    request.state_changed_at = at
    return request


# ---------------------------------------------------------------------------------------------------------------
# Secrets


@dataclass(frozen=True)
class SecretColumnReport:
    column: str  # "app_label.model.field"
    rotated: int
    unreadable: int


def secrets_rotate(*, dry_run: bool = False) -> list[SecretColumnReport]:
    """Re-encrypt every encrypted column of every model under the newest of FIELD_ENCRYPTION_KEYS.

    Works on the stored ciphertext (raw SQL), never decrypting into the ORM; each row is rewritten only if it
    still holds the value read, so a secret saved meanwhile is not overwritten. Values no key opens are counted
    as unreadable and left as they are. Reports counts, never values."""
    reports = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, (EncryptedTextField, EncryptedJSONField)):
                reports.append(_rotate_column(model, field, dry_run=dry_run))
    return reports


def _rotate_column(model, field, *, dry_run: bool) -> SecretColumnReport:
    # Identifiers come from model metadata (never from input) and are quoted; values are parameters.
    qn = connection.ops.quote_name
    table, column, pk = qn(model._meta.db_table), qn(field.column), qn(model._meta.pk.column)
    rotated = unreadable = 0
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"SELECT {pk}, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} <> '' "
                    f"ORDER BY {pk}")
        for row_pk, stored in cur.fetchall():
            try:
                fresh = rotate(stored)
            except SecretUnreadable:
                unreadable += 1
                continue
            if not dry_run:
                cur.execute(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s",
                            [fresh, row_pk, stored])
                rotated += cur.rowcount
            else:
                rotated += 1
    return SecretColumnReport(column=f"{model._meta.label_lower}.{field.name}", rotated=rotated,
                              unreadable=unreadable)
