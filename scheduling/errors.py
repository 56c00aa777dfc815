"""Loopwise's application errors: one small tree, mapped to HTTP in one place (the API's exception handler).

Every error carries a message a person can read and `extra`, a dict of ids and codes (never personal data)
for the API's error body and for logs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LoopwiseError", "InvalidTransition", "ConcurrentChange", "NotAvailableYet", "PermanentError",
           "NotBookable", "ChangesClosed", "NothingToOffer", "EmailNotSent", "InvalidWindows"]


class LoopwiseError(Exception):
    """The root of every error Loopwise raises on purpose."""

    def __init__(self, message: str, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.extra = dict(extra or {})

    def __str__(self) -> str:
        return self.message


class InvalidTransition(LoopwiseError):
    """A request (or another state machine) was asked for a move its TRANSITIONS table does not allow."""

    def __init__(self, old: str, new: str):
        super().__init__(f"cannot move from {old!r} to {new!r}", {"old": old, "new": new})
        self.old = old
        self.new = new


class ConcurrentChange(LoopwiseError):
    """Someone else changed the object first: the conditional update matched no row. Reload and retry."""

    def __init__(self, obj_id: Any):
        super().__init__(f"#{obj_id} was changed by someone else; reload it and try again", {"id": str(obj_id)})
        self.obj_id = obj_id


class NotAvailableYet(LoopwiseError):
    """A feature whose machinery is not built yet (admin actions say so instead of failing later)."""

    def __init__(self, feature: str):
        super().__init__(f"{feature} is not available yet", {"feature": feature})
        self.feature = feature


class PermanentError(LoopwiseError):
    """Raised by an outbox or inbound handler when retrying cannot help (revoked grant, unknown object):
    the item goes dead at once instead of being retried."""


class NotBookable(LoopwiseError):
    """The request is in no state to be booked, rescheduled or cancelled (e.g. it was cancelled, or there is
    no booking to move)."""


class ChangesClosed(LoopwiseError):
    """The candidate asked to reschedule or cancel after the plan's cut-off."""


class NothingToOffer(LoopwiseError):
    """A link was asked for, but the solver finds no time to offer: the diagnostics say why."""


class EmailNotSent(LoopwiseError):
    """An email that must go out now (the candidate's link) could not be handed to the mail server."""


class InvalidWindows(LoopwiseError):
    """Availability windows a candidate proposed were refused; `extra["field"]` names the first bad one."""
