"""Pytest fixtures for the provider fakes, registered in tests/conftest.py with
`pytest_plugins = ["tests.fixtures_fakes"]`.

Each fake starts once per test process (a few milliseconds) and is reset after every test that uses it, so a
test sees an empty fake with no faults and no recorded requests.
"""

from __future__ import annotations

import pytest

from integrations.fakes.google import GoogleFake
from integrations.fakes.greenhouse import GreenhouseFake
from integrations.fakes.icims import IcimsFake
from integrations.fakes.jobvite import JobviteFake
from integrations.fakes.lever import LeverFake
from integrations.fakes.mail import MailFake
from integrations.fakes.microsoft import MicrosoftFake


@pytest.fixture(scope="session")
def _mail_fake_server():
    fake = MailFake.start()
    yield fake
    fake.stop()


@pytest.fixture
def mail_fake(_mail_fake_server, settings):
    """The running mail fake, with Django's SMTP backend pointed at it (pytest-django would use locmem)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _mail_fake_server.smtp_port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield _mail_fake_server
    _mail_fake_server.reset()


@pytest.fixture(scope="session")
def _google_fake_server():
    fake = GoogleFake.start()
    yield fake
    fake.stop()


@pytest.fixture
def google_fake(_google_fake_server):
    """The running google fake (Calendar API v3 under `url + "/calendar/v3/"`, OAuth at `url + "/token"`), empty."""
    yield _google_fake_server
    _google_fake_server.reset()


@pytest.fixture(scope="session")
def _greenhouse_fake_server():
    fake = GreenhouseFake.start()
    yield fake
    fake.stop()


@pytest.fixture
def greenhouse_fake(_greenhouse_fake_server):
    """The running greenhouse fake (token at `url + "/token"`, Harvest v3 under `url + "/v3/"`), empty, with no
    web hook URL: seed `webhook_url` or call `configure_webhooks(url=...)` to receive its web hooks."""
    yield _greenhouse_fake_server
    _greenhouse_fake_server.reset()


@pytest.fixture(scope="session")
def _microsoft_fake_server():
    fake = MicrosoftFake.start()
    yield fake
    fake.stop()


@pytest.fixture
def microsoft_fake(_microsoft_fake_server):
    """The running microsoft fake (Graph v1.0 under `url + "/v1.0/"`; msal's authority `authority(tenant)` on the
    TLS login host, trusted through `ca_pem_path`), empty: seed a tenant first."""
    yield _microsoft_fake_server
    _microsoft_fake_server.reset()


@pytest.fixture(scope="session")
def _lever_fake_server():
    fake = LeverFake.start()
    yield fake
    fake.stop()


@pytest.fixture
def lever_fake(_lever_fake_server):
    """The running lever fake (Data API v1 under `url + "/v1/"`), empty but for the account's default stages, with
    no webhook URL: seed `webhook_url` or call `configure_webhooks(url=...)` to receive its webhooks."""
    yield _lever_fake_server
    _lever_fake_server.reset()


@pytest.fixture(scope="session")
def _icims_fake_server():
    fake = IcimsFake.start()
    yield fake
    fake.stop()


@pytest.fixture
def icims_fake(_icims_fake_server):
    """The running icims fake (API under `url + "/customers/1234/"`, token at `url + "/oauth/token"`, Data Streaming
    under `url + "/datastream/"`), empty, with no push URL: seed `webhook_url` to receive its pushes."""
    yield _icims_fake_server
    _icims_fake_server.reset()


@pytest.fixture(scope="session")
def _jobvite_fake_server():
    fake = JobviteFake.start()
    yield fake
    fake.stop()


@pytest.fixture
def jobvite_fake(_jobvite_fake_server):
    """The running jobvite fake (API v2 under `url + "/api/v2/"`), empty but for the company's default workflow
    states, with no webhook URL: seed `webhook_url` (or `webhook`) to receive its pushes."""
    yield _jobvite_fake_server
    _jobvite_fake_server.reset()
