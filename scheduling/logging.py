"""Structured logs that never carry a secret.

`JsonFormatter` writes one JSON object a line (time, level, logger, message, and any `extra`
fields). `RedactSecretsFilter` masks values that look like credentials (bearer tokens, OAuth
refresh tokens, `key=`/`token=`/`secret=`/`password=` pairs, Fernet ciphertexts, and portal
links' tokens) in the message and its arguments before any handler sees them. Candidate data is
kept out by construction: code logs ids, never names or emails.
"""

from __future__ import annotations

import json
import logging
import re

_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]"),
    (re.compile(r"(?i)((?:access_token|refresh_token|client_secret|api_key|apikey|password|secret|token|key)"
                r"[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"), r"\1[redacted]"),
    (re.compile(r"fernet:[A-Za-z0-9_=-]+"), "fernet:[redacted]"),
    (re.compile(r"(/s/)[A-Za-z0-9_-]{16,}"), r"\1[redacted]"),
    (re.compile(r"\b1//[A-Za-z0-9_-]{20,}"), "[redacted]"),
]
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def redact(text: str) -> str:
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not stop logging
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k not in _STANDARD and not k.startswith("_"):
                doc[k] = v if isinstance(v, (int, float, bool, type(None))) else redact(str(v))
        if record.exc_info:
            doc["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(doc)
