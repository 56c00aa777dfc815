"""A Google Workspace organisation in the fake and in the database: a service account with domain-wide
delegation, an organiser mailbox, interviewers and a room, each with a Calendar row."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from integrations.models import CalendarConnection
from tests import factories as f

DOMAIN = "acme.test"
SA_EMAIL = "loopwise@acme-project.iam.gserviceaccount.com"


@dataclass
class Workspace:
    fake: object
    connection: CalendarConnection
    interviewers: list
    room: object
    pool: object
    plan: object


@pytest.fixture
def workspace(db, google_fake) -> Workspace:
    people = [f"alice@{DOMAIN}", f"bob@{DOMAIN}", f"carol@{DOMAIN}"]
    google_fake.seed({
        "users": [{"email": f"interviews@{DOMAIN}"}] + [{"email": p, "timezone": "Europe/London"} for p in people],
        "rooms": [{"email": f"room-thames@{DOMAIN}", "name": "Thames"}],
        "service_accounts": [{"client_email": SA_EMAIL}],
    })
    connection = CalendarConnection.objects.create(
        name="Acme Workspace", provider="google", auth_mode="service_account", base_url=google_fake.url,
        token_url=google_fake.url + "/token", organiser_calendar=f"interviews@{DOMAIN}",
        credentials={"service_account_info": google_fake.service_account_info(SA_EMAIL)})
    coordinator = f.UserFactory(username="casey", email="casey@acme.test")
    plan = f.PlanFactory(requisition__coordinator=coordinator, window_days=7, min_notice_hours=0)
    session = f.SessionTemplateFactory(plan=plan, duration_minutes=60)
    pool = f.PoolFactory(name="Backend")
    f.RoleFactory(session=session, pool=pool)
    interviewers = []
    for email in people:
        cal = f.CalendarFactory(connection=connection, external_id=email)
        person = f.InterviewerFactory(name=email.split("@")[0].title() + " Example", email=email, calendar=cal,
                                      timezone="Europe/London", max_per_day=None, max_per_week=None)
        for wd in range(5):
            f.AvailabilityRuleFactory(interviewer=person, weekday=wd, start=dt.time(9), end=dt.time(17))
        f.MembershipFactory(pool=pool, interviewer=person)
        interviewers.append(person)
    room = f.RoomFactory(name="Thames", calendar=f.CalendarFactory(connection=connection,
                                                                   external_id=f"room-thames@{DOMAIN}", kind="room"))
    return Workspace(google_fake, connection, interviewers, room, pool, plan)
