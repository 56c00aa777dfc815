"""Django settings for Loopwise. Every value that varies comes from config/env.py."""

from __future__ import annotations

import warnings

import environ

from config import env as E

BASE_DIR = E.BASE_DIR
SECRET_KEY = E.SECRET_KEY
DEBUG = E.DEBUG
ALLOWED_HOSTS = E.ALLOWED_HOSTS
CSRF_TRUSTED_ORIGINS = E.CSRF_TRUSTED_ORIGINS
FIELD_ENCRYPTION_KEYS = E.FIELD_ENCRYPTION_KEYS
PUBLIC_BASE_URL = E.PUBLIC_BASE_URL
RETENTION_DAYS = E.RETENTION_DAYS
WEBHOOK_BODY_RETENTION_DAYS = E.WEBHOOK_BODY_RETENTION_DAYS
LOOPWISE_CLOCK_FILE = E.CLOCK_FILE
LOOPWISE_MAX_SLEEP_SECONDS = E.MAX_SLEEP_SECONDS
FREEBUSY_MAX_AGE_MINUTES = E.FREEBUSY_MAX_AGE_MINUTES
PORTAL_TRUSTED_PROXIES = E.PORTAL_TRUSTED_PROXIES
WEBHOOKS_ALLOW_PRIVATE_TARGETS = E.WEBHOOKS_ALLOW_PRIVATE_TARGETS
WEBHOOKS_ALLOW_HTTP = E.WEBHOOKS_ALLOW_HTTP
LINK_EXPIRY_WARNING_HOURS = E.LINK_EXPIRY_WARNING_HOURS
LINK_AUTO_EXTEND_HOURS = E.LINK_AUTO_EXTEND_HOURS
AWAITING_TOO_LONG_HOURS = E.AWAITING_TOO_LONG_HOURS
ATS_QUIET_WEBHOOK_MINUTES = E.ATS_QUIET_WEBHOOK_MINUTES
CALENDAR_OAUTH = {
    "google": {
        "client_id": E.GOOGLE_OAUTH_CLIENT_ID,
        "client_secret": E.GOOGLE_OAUTH_CLIENT_SECRET,
        "authorize_url": E.GOOGLE_AUTHORIZE_URL,
        "token_url": E.GOOGLE_TOKEN_URL,
        "api_base_url": E.GOOGLE_API_BASE_URL,
        # Least scopes that work: write events, read free/busy of calendars shared with the user.
        "scopes": ["https://www.googleapis.com/auth/calendar.events",
                   "https://www.googleapis.com/auth/calendar.events.freebusy"],
        "extra": {"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"},
    },
    "microsoft": {
        "client_id": E.MICROSOFT_OAUTH_CLIENT_ID,
        "client_secret": E.MICROSOFT_OAUTH_CLIENT_SECRET,
        "tenant": E.MICROSOFT_OAUTH_TENANT,
        "authorize_url": f"{E.MICROSOFT_LOGIN_BASE_URL.rstrip('/')}/{E.MICROSOFT_OAUTH_TENANT}/oauth2/v2.0/authorize",
        "token_url": f"{E.MICROSOFT_LOGIN_BASE_URL.rstrip('/')}/{E.MICROSOFT_OAUTH_TENANT}/oauth2/v2.0/token",
        "login_base_url": E.MICROSOFT_LOGIN_BASE_URL,
        "api_base_url": E.MICROSOFT_GRAPH_BASE_URL,
        "ca_bundle": E.MICROSOFT_CA_BUNDLE,
        # Least scopes that work: write events on the user's calendar, read free/busy (getSchedule) of the people
        # and rooms they can see; offline_access for the refresh token.
        "scopes": ["offline_access", "https://graph.microsoft.com/Calendars.ReadWrite"],
        "extra": {"response_mode": "query", "prompt": "select_account"},
    },
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.microsoft",
    "django_q",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "scheduling",
    "integrations",
    "candidates_portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "scheduling.middleware.StaffTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": environ.Env.db_url_config(E.DATABASE_URL)}
# Survive a PostgreSQL restart: check a kept connection before reusing it.
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One writer at a time, taken at BEGIN: the lock helper relies on it (scheduling.locks).
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20,
                                       "init_command": "PRAGMA journal_mode=WAL;"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"].setdefault("TEST", {})

AUTH_USER_MODEL = "scheduling.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Staff sign in with email and password; there is no public sign-up.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "scheduling.auth.StaffAccountAdapter"
SOCIALACCOUNT_ADAPTER = "scheduling.auth.StaffSocialAccountAdapter"
LOGIN_REDIRECT_URL = "/admin/"
LOGIN_URL = "/accounts/login/"
SOCIALACCOUNT_PROVIDERS = {}
if E.GOOGLE_CLIENT_ID:
    SOCIALACCOUNT_PROVIDERS["google"] = {
        "APPS": [{"client_id": E.GOOGLE_CLIENT_ID, "secret": E.GOOGLE_CLIENT_SECRET}],
        "SCOPE": ["openid", "email", "profile"],
    }
if E.MICROSOFT_CLIENT_ID:
    SOCIALACCOUNT_PROVIDERS["microsoft"] = {
        "APPS": [{"client_id": E.MICROSOFT_CLIENT_ID, "secret": E.MICROSOFT_CLIENT_SECRET,
                  "settings": {"tenant": E.MICROSOFT_TENANT}}],
    }

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Development and tests serve static files from the apps (no collectstatic); WhiteNoise would warn each start.
warnings.filterwarnings("ignore", message=r"No directory at: .*staticfiles", category=UserWarning)
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
                    if E.PRODUCTION else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True

# Rate limits and throttles must hold across several web processes: a shared cache.
if E.REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": E.REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                          "LOCATION": "loopwise_cache"}}

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = E.EMAIL_HOST
EMAIL_PORT = E.EMAIL_PORT
EMAIL_HOST_USER = E.EMAIL_HOST_USER
EMAIL_HOST_PASSWORD = E.EMAIL_HOST_PASSWORD
EMAIL_USE_TLS = E.EMAIL_USE_TLS
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = E.DEFAULT_FROM_EMAIL
SERVER_EMAIL = E.DEFAULT_FROM_EMAIL

# django-q2. `timeout` stays below `retry`, or a second worker would start the same task;
# attempts are bounded (0 would mean forever); missed periodic runs are not replayed, because
# every periodic task catches up by itself (sweeps, polls) and a replay would only repeat it.
Q_CLUSTER = {
    "name": "loopwise",
    "workers": 2,
    "timeout": 120,
    "retry": 180,
    "max_attempts": 3,
    "catch_up": False,
    "ack_failures": True,
    "label": "Background tasks",
}
if E.REDIS_URL:
    Q_CLUSTER["redis"] = E.REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# The integrator API (/api/v1/, scheduling/api/): API keys (Authorization: Bearer <key>) or a staff session;
# scopes read/write; one rate limit per key on the shared cache; one error shape {"errors": [{field, message}]}.
API_RATE_PER_MINUTE = E.API_RATE_PER_MINUTE
API_SOLVE_MAX_BYTES = E.API_SOLVE_MAX_BYTES
API_OPTIONS_MAX_AGE_MINUTES = E.API_OPTIONS_MAX_AGE_MINUTES
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["scheduling.api.auth.ApiKeyAuthentication",
                                       "scheduling.api.auth.StaffSessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["scheduling.api.auth.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["scheduling.api.throttling.PerKeyThrottle"],
    "DEFAULT_PAGINATION_CLASS": "scheduling.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "scheduling.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Loopwise API",
    "VERSION": "1.0.0",
    "DESCRIPTION": ("The integrator API of Loopwise. Authenticate with `Authorization: Bearer <key>` (keys are "
                    "created in the admin or with `manage.py create_api_key`); `read` keys read, `write` keys also "
                    "change. Times are ISO 8601 with an offset. Errors are `{\"errors\": [{\"field\", \"message\"}]}`; "
                    "too many requests answer 429 with `Retry-After`."),
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {},
}

# Production hardening (check --deploy is clean with LOOPWISE_ENV=production).
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if E.PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = E.env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = E.env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "scheduling.logging.RedactSecretsFilter"}},
    "formatters": {
        "json": {"()": "scheduling.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": E.LOG_FORMAT, "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": E.LOG_LEVEL},
    "loggers": {
        # Django's own request log names paths ("Not Found: /s/<token>/"): through the redacting handler only.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django_q": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
