"""The API's one exception handler: every error answers `{"errors": [{"field": ..., "message": ...}]}`.

`field` is the path of the input at fault ("sessions[2].roles[0].pool", "application_id") or null when the error
is not about one field (authentication, permission, not found, a state conflict). Mapped here:
- the solver's ProblemError -> 400, one entry per bad field it found;
- DRF validation errors -> 400, nested serializer paths joined with dots and [index];
- LoopwiseError -> 409 (the request is in no state for it: InvalidTransition, NotBookable, ChangesClosed,
  ConcurrentChange, NothingToOffer), 400 for InvalidWindows (its `extra["field"]`), 503 for EmailNotSent and
  NotAvailableYet;
- DRF's own (401, 403, 404, 405, 413, 415, 429 with Retry-After) keep their status and headers.
Anything else is left to Django: a logged 500.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from scheduling.engine import ProblemError
from scheduling.errors import EmailNotSent, InvalidWindows, LoopwiseError, NotAvailableYet

__all__ = ["exception_handler", "PayloadTooLarge", "error_body"]


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request body is too large"
    default_code = "too_large"


def error_body(*pairs: tuple[str | None, str]) -> dict:
    return {"errors": [{"field": field, "message": str(message)} for field, message in pairs]}


def _flatten(detail, path: str = "") -> list[tuple[str | None, str]]:
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            if key in ("non_field_errors", "detail"):
                out += _flatten(value, path)
            elif isinstance(key, int):  # DRF keys a list's item errors by index
                out += _flatten(value, f"{path}[{key}]")
            else:
                out += _flatten(value, f"{path}.{key}" if path else str(key))
        return out
    if isinstance(detail, list):
        if all(not isinstance(v, (dict, list)) for v in detail):
            return [(path or None, str(v)) for v in detail]
        out = []
        for i, value in enumerate(detail):
            if value:
                out += _flatten(value, f"{path}[{i}]")
        return out
    return [(path or None, str(detail))]


def exception_handler(exc, context):
    if isinstance(exc, ProblemError):
        return Response(error_body(*exc.errors), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, LoopwiseError):
        if isinstance(exc, InvalidWindows):
            return Response(error_body((exc.extra.get("field"), exc.message)), status=status.HTTP_400_BAD_REQUEST)
        code = (status.HTTP_503_SERVICE_UNAVAILABLE if isinstance(exc, (EmailNotSent, NotAvailableYet))
                else status.HTTP_409_CONFLICT)
        return Response(error_body((exc.extra.get("field"), exc.message)), status=code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        pairs = _flatten(exc.detail) or [(None, "invalid input")]
    else:
        pairs = _flatten(exc.detail)
    response.data = error_body(*pairs)
    return response
