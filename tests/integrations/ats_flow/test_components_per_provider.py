"""Each provider's own component names carry its inbound and write-back health: iCIMS pushes are `events` and its
writes are `workflow`, so a quiet push or a working write never lands on a Greenhouse-named row."""

from __future__ import annotations

import pytest

from integrations.ats import health
from integrations.ats.base import component_names
from integrations.models import AtsComponentHealth
from tests import factories as f


@pytest.mark.parametrize(("provider", "names"), [("greenhouse", ("webhooks", "writes")),
                                                 ("lever", ("webhooks", "writes")),
                                                 ("icims", ("events", "workflow")),
                                                 ("jobvite", ("webhooks", "workflow_states"))])
def test_it_names_each_providers_inbound_and_write_components(db, provider, names):
    assert component_names(f.AtsConnectionFactory(provider=provider)) == names


def test_a_quiet_icims_push_flags_events_and_a_delivery_clears_it(db, mail_fake):
    conn = f.AtsConnectionFactory(provider="icims")
    health.mark_quiet(connection=conn, detail="a polled status change no push delivered")
    row = AtsComponentHealth.objects.get(connection=conn)
    assert row.component == "events" and row.quiet_since is not None
    health.mark_success(connection=conn, component="events")
    row.refresh_from_db()
    assert row.quiet_since is None
    assert not AtsComponentHealth.objects.filter(connection=conn, component="webhooks").exists()
