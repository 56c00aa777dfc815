"""A gunicorn logger class whose access log never holds a portal token.

The candidate's first request is `GET /s/<token>/`: the token is in the path, which gunicorn's access log
writes (`%(U)s`, `%(r)s`, and the Referer of the request that follows). The portal answers that path at once
with a redirect to a URL without the token, and this class masks the token in every access-log field
(`/s/[redacted]/`, through `scheduling.logging.redact`). Run gunicorn with
`--logger-class candidates_portal.access_log.RedactingLogger`. Django's own loggers are redacted by
`scheduling.logging.RedactSecretsFilter` already; a reverse proxy in front must be told the same (for nginx,
a `map` on `$request_uri` into the `log_format`).
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from scheduling.logging import redact

__all__ = ["RedactingLogger"]


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in atoms.items()}
