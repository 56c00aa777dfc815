"""Fixtures for the shared services' tests (the mail fake comes from tests/fixtures_fakes.py)."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def smtp_down(settings):
    """Django's SMTP backend pointed at a loopback port nobody listens on: every send is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    return port

