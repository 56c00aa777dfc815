import pytest
from django.db import connection

from integrations.models import AtsConnection
from tests.factories import AtsConnectionFactory, CalendarConnectionFactory

pytestmark = pytest.mark.django_db


def test_it_stores_connection_credentials_encrypted():
    ats = AtsConnectionFactory(credentials={"api_key": "harvest-key-0f9e8d7c", "client_secret": "s3cr3t-xyz"})
    calendar = CalendarConnectionFactory(credentials={"refresh_token": "1//refresh-token-abcdef"})
    with connection.cursor() as cur:
        cur.execute("SELECT credentials FROM integrations_atsconnection WHERE id = %s", [ats.pk])
        [ats_raw] = cur.fetchone()
        cur.execute("SELECT credentials FROM integrations_calendarconnection WHERE id = %s", [calendar.pk])
        [calendar_raw] = cur.fetchone()
    assert ats_raw.startswith("fernet:") and calendar_raw.startswith("fernet:")
    for secret in ("harvest-key-0f9e8d7c", "s3cr3t-xyz", "api_key", "client_secret"):
        assert secret not in ats_raw
    assert "refresh-token-abcdef" not in calendar_raw
    assert AtsConnection.objects.get(pk=ats.pk).credentials["api_key"] == "harvest-key-0f9e8d7c"
