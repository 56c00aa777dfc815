"""Every environment variable Loopwise reads, read here and nowhere else.

Development works with no variable set: SQLite in the project folder, the ORM broker, the
database cache, a development SECRET_KEY and a development encryption key. Production
(`LOOPWISE_ENV=production`) refuses to start on any development default and names the
variable that is missing or malformed.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"
# A valid Fernet key that only development and the tests use; production must set its own list.
DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktbG9vcHdpc2UtZmllbGQta2V5LTAwMDA="

ENVIRONMENT = env.str("LOOPWISE_ENV", default="development")
if ENVIRONMENT not in {"development", "test", "production"}:
    raise ImproperlyConfigured(f"LOOPWISE_ENV: must be development, test or production, not {ENVIRONMENT!r}")
PRODUCTION = ENVIRONMENT == "production"

SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
# Newest first; `manage.py rotate_secrets` re-encrypts every secret under the first one.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[DEV_ENCRYPTION_KEY])
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
_DEV_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else _DEV_HOSTS)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
DATABASE_URL = env.str("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'loopwise.sqlite3'}")
REDIS_URL = env.str("REDIS_URL", default="")
EMAIL_HOST = env.str("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=2525)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="scheduling@loopwise.localhost")
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
RETENTION_DAYS = env.int("RETENTION_DAYS", default=365)
WEBHOOK_BODY_RETENTION_DAYS = env.int("WEBHOOK_BODY_RETENTION_DAYS", default=30)
# A file holding an ISO instant; when set, scheduling.clock.now() reads it, so tests and the demo
# can move time for the web server and every worker at once.
CLOCK_FILE = env.str("LOOPWISE_CLOCK_FILE", default="")
# The longest single wait the shared sleeper will make (seconds); tiny in tests.
MAX_SLEEP_SECONDS = env.float("LOOPWISE_MAX_SLEEP_SECONDS", default=30.0)
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "text")
# Calendar access: the OAuth client interviewers consent to, and where the providers live (the
# real services unless overridden, e.g. by the demo's local fakes).
GOOGLE_OAUTH_CLIENT_ID = env.str("GOOGLE_OAUTH_CLIENT_ID", default="")
GOOGLE_OAUTH_CLIENT_SECRET = env.str("GOOGLE_OAUTH_CLIENT_SECRET", default="")
GOOGLE_AUTHORIZE_URL = env.str("GOOGLE_AUTHORIZE_URL", default="https://accounts.google.com/o/oauth2/v2/auth")
GOOGLE_TOKEN_URL = env.str("GOOGLE_TOKEN_URL", default="https://oauth2.googleapis.com/token")
GOOGLE_API_BASE_URL = env.str("GOOGLE_API_BASE_URL", default="")
# Microsoft 365 (Entra ID app registration): the delegated consent client, its tenant ("organizations" for any
# work account), the identity host msal uses as its authority (https only) and Graph's base URL; the CA bundle
# is for the demo's local fake only (empty: certifi's).
MICROSOFT_OAUTH_CLIENT_ID = env.str("MICROSOFT_OAUTH_CLIENT_ID", default="")
MICROSOFT_OAUTH_CLIENT_SECRET = env.str("MICROSOFT_OAUTH_CLIENT_SECRET", default="")
MICROSOFT_OAUTH_TENANT = env.str("MICROSOFT_OAUTH_TENANT", default="organizations")
MICROSOFT_LOGIN_BASE_URL = env.str("MICROSOFT_LOGIN_BASE_URL", default="https://login.microsoftonline.com")
MICROSOFT_GRAPH_BASE_URL = env.str("MICROSOFT_GRAPH_BASE_URL", default="")
MICROSOFT_CA_BUNDLE = env.str("MICROSOFT_CA_BUNDLE", default="")
FREEBUSY_MAX_AGE_MINUTES = env.int("FREEBUSY_MAX_AGE_MINUTES", default=15)
# Polling flags an ATS's webhooks "quiet" when it finds a stage change no webhook delivered within this long.
ATS_QUIET_WEBHOOK_MINUTES = env.int("ATS_QUIET_WEBHOOK_MINUTES", default=10)
# Link expiry: warn the coordinator this long before an unused link expires; optionally extend a link once
# by itself (0: off); flag requests waiting for the candidate longer than this.
LINK_EXPIRY_WARNING_HOURS = env.int("LINK_EXPIRY_WARNING_HOURS", default=24)
LINK_AUTO_EXTEND_HOURS = env.int("LINK_AUTO_EXTEND_HOURS", default=0)
AWAITING_TOO_LONG_HOURS = env.int("AWAITING_TOO_LONG_HOURS", default=72)
# Outbound webhooks go to public https targets only; these open loopback/private and plain http (tests only).
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", default=False)
WEBHOOKS_ALLOW_HTTP = env.bool("WEBHOOKS_ALLOW_HTTP", default=False)
# Reverse proxies in front of the web servers (their X-Forwarded-For hops are trusted for rate limits).
PORTAL_TRUSTED_PROXIES = env.int("PORTAL_TRUSTED_PROXIES", default=0)
# Integrator API: requests per key (or staff user) per minute, the largest `POST /api/v1/solve` body in bytes
# (the solver's large benchmark problem is about 3.2 MB), and how old a request's stored options may be before
# `GET .../availability` recomputes them (minutes).
API_RATE_PER_MINUTE = env.int("API_RATE_PER_MINUTE", default=600)
API_SOLVE_MAX_BYTES = env.int("API_SOLVE_MAX_BYTES", default=5 * 1024 * 1024)
API_OPTIONS_MAX_AGE_MINUTES = env.int("API_OPTIONS_MAX_AGE_MINUTES", default=15)
GOOGLE_CLIENT_ID = env.str("GOOGLE_SSO_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = env.str("GOOGLE_SSO_CLIENT_SECRET", default="")
MICROSOFT_CLIENT_ID = env.str("MICROSOFT_SSO_CLIENT_ID", default="")
MICROSOFT_CLIENT_SECRET = env.str("MICROSOFT_SSO_CLIENT_SECRET", default="")
MICROSOFT_TENANT = env.str("MICROSOFT_SSO_TENANT", default="organizations")


def check_production() -> None:
    """Stop start-up in production when a development default is still in place."""
    if not PRODUCTION:
        return
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY: set a random value of 50 or more characters in production")
    if DEV_ENCRYPTION_KEY in FIELD_ENCRYPTION_KEYS:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS: the development key must not be used in production")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS: list the host names Loopwise is served on")
    if DATABASE_URL.startswith("sqlite"):
        raise ImproperlyConfigured("DATABASE_URL: production runs on PostgreSQL (postgres://...)")


check_production()
