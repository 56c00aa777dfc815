import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from integrations.models import AtsConnection
from tests.factories import AtsConnectionFactory

pytestmark = pytest.mark.django_db
SECRET = "gh-secret-value-123"


def raw_credentials(pk: int) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT credentials FROM integrations_atsconnection WHERE id = %s", [pk])
        return cur.fetchone()[0]


def test_it_re_encrypts_every_secret_under_the_newest_key(settings):
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key_a]
    ats = AtsConnectionFactory(credentials={"client_id": "gh-client", "client_secret": SECRET})
    before = raw_credentials(ats.pk)

    settings.FIELD_ENCRYPTION_KEYS = [key_b, key_a]
    out = io.StringIO()
    call_command("rotate_secrets", stdout=out)

    assert "integrations.atsconnection.credentials: rotated 1, unreadable 0" in out.getvalue()
    assert SECRET not in out.getvalue()
    after = raw_credentials(ats.pk)
    assert after != before and SECRET not in after and after.startswith("fernet:")
    settings.FIELD_ENCRYPTION_KEYS = [key_b]
    assert AtsConnection.objects.get(pk=ats.pk).credentials["client_secret"] == SECRET


def test_it_writes_nothing_on_a_dry_run(settings):
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [key_a]
    ats = AtsConnectionFactory()
    before = raw_credentials(ats.pk)
    settings.FIELD_ENCRYPTION_KEYS = [key_b, key_a]
    out = io.StringIO()
    call_command("rotate_secrets", "--dry-run", stdout=out)
    assert "integrations.atsconnection.credentials: would rotate 1, unreadable 0" in out.getvalue()
    assert raw_credentials(ats.pk) == before


def test_it_reports_secrets_no_key_opens_and_leaves_them(settings):
    key_a, key_b, lost = (Fernet.generate_key().decode() for _ in range(3))
    settings.FIELD_ENCRYPTION_KEYS = [lost]
    orphan = AtsConnectionFactory()
    settings.FIELD_ENCRYPTION_KEYS = [key_a]
    fine = AtsConnectionFactory()
    orphan_raw = raw_credentials(orphan.pk)

    settings.FIELD_ENCRYPTION_KEYS = [key_b, key_a]
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 secret"):
        call_command("rotate_secrets", stdout=out)
    assert "integrations.atsconnection.credentials: rotated 1, unreadable 1" in out.getvalue()
    assert raw_credentials(orphan.pk) == orphan_raw
    settings.FIELD_ENCRYPTION_KEYS = [key_b]
    assert AtsConnection.objects.get(pk=fine.pk).credentials["client_secret"] == "gh-secret-value-123"
