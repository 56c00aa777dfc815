"""The one error every adapter (calendar or ATS) raises, classified where the provider answered."""

from __future__ import annotations


class ProviderError(Exception):
    """A failed provider call, classified once, in the adapter.

    `permanent`: retrying will not help (revoked grant, bad key, not found). `scope`: what it
    condemns: "connection" (its own credentials: turns the connection red), "calendar" (one
    calendar or mailbox), "component" (one part of an ATS integration), or "request" (only this
    call). `component`: for an ATS, the component the failed call belongs to ("auth", "reads", "writes",
    or an iCIMS API), whatever the scope, so that health can count it. `retry_after`: seconds the
    provider asked us to wait.
    """

    def __init__(self, message: str, *, permanent: bool, scope: str = "connection", calendar_id: str = "",
                 retry_after: float | None = None, status: int | None = None, reason: str = "",
                 component: str = ""):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.scope = scope
        self.calendar_id = calendar_id
        self.retry_after = retry_after
        self.status = status
        self.reason = reason
        self.component = component

    def __str__(self) -> str:
        return self.message
