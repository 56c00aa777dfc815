"""A small organisation on the google fake: a Workspace service account with domain-wide delegation, an organiser
mailbox, interviewers in London and New York with calendars there, a room, and a loop (coding with a room, a
break, system design). Time stands at NOW (a Monday, 06:00 UTC) and ticks on from there."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
import time_machine

from integrations.models import Calendar, CalendarConnection
from scheduling.models import Interviewer, OrganisationSettings, Role, SchedulingRequest
from tests import factories as f
from tests.scheduling.booking.support import ALICE, BOB, CAROL, DAVE, NOW, ORGANISER, ROOM, SERVICE_ACCOUNT


@dataclass
class World:
    fake: object
    mail: object
    connection: CalendarConnection
    plan: object
    people: dict[str, Interviewer]
    room: object
    coordinator: object
    extra: dict = field(default_factory=dict)

    def request(self, *, plan=None, timezone: str = "Asia/Kolkata", **kw) -> SchedulingRequest:
        plan = plan or self.plan
        return f.SchedulingRequestFactory(plan=plan, application__requisition=plan.requisition,
                                          application__candidate__timezone=timezone, **kw)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


def _hours(person: Interviewer, start: dt.time = dt.time(9), end: dt.time = dt.time(18)) -> None:
    for weekday in range(5):
        f.AvailabilityRuleFactory(interviewer=person, weekday=weekday, start=start, end=end)


def build_world(google_fake, mail_fake) -> World:
    google_fake.seed({
        "users": [{"email": ORGANISER, "name": "Interviews"},
                  {"email": ALICE, "name": "Alice Archer", "timezone": "Europe/London"},
                  {"email": BOB, "name": "Bob Brown", "timezone": "America/New_York"},
                  {"email": CAROL, "name": "Carol Chen", "timezone": "America/New_York"},
                  {"email": DAVE, "name": "Dave Dunn", "timezone": "Europe/London"}],
        "rooms": [{"email": ROOM, "name": "Thames", "timezone": "Europe/London"}],
        "service_accounts": [{"client_email": SERVICE_ACCOUNT}],
    })
    connection = CalendarConnection.objects.create(
        name="Acme Workspace", provider="google", auth_mode="service_account", base_url=google_fake.url,
        token_url=google_fake.url + "/token", organiser_calendar=ORGANISER, account_email="admin@acme.test",
        credentials={"service_account_info": google_fake.service_account_info(SERVICE_ACCOUNT)})

    def calendar(email: str, kind: str = "person") -> Calendar:
        return Calendar.objects.create(connection=connection, external_id=email, kind=kind)

    alice = f.InterviewerFactory(name="Alice Archer", email=ALICE, title="Staff Engineer", timezone="Europe/London",
                                 calendar=calendar(ALICE), max_per_day=4, max_per_week=10)
    bob = f.InterviewerFactory(name="Bob Brown", email=BOB, title="Senior Engineer", timezone="America/New_York",
                               calendar=calendar(BOB), max_per_day=4, max_per_week=10)
    carol = f.InterviewerFactory(name="Carol Chen", email=CAROL, title="Engineering Manager",
                                 timezone="America/New_York", calendar=calendar(CAROL), max_per_day=4,
                                 max_per_week=10)
    for person in (alice, bob, carol):
        _hours(person)
    room = f.RoomFactory(name="Thames", timezone="Europe/London", calendar=calendar(ROOM, "room"))
    coordinator = f.UserFactory(username="casey", email="casey@acme.test")
    requisition = f.RequisitionFactory(title="Backend Engineer", coordinator=coordinator)
    plan = f.PlanFactory(requisition=requisition, name="Onsite loop", buffer_minutes=10, min_notice_hours=24,
                         window_days=7, step_minutes=30, reschedule_cutoff_hours=24)
    coding = f.SessionTemplateFactory(plan=plan, position=0, name="Coding", duration_minutes=60)
    f.SessionTemplateFactory(plan=plan, position=1, name="Lunch", duration_minutes=30, is_break=True)
    design = f.SessionTemplateFactory(plan=plan, position=2, name="System design", duration_minutes=60)
    pool = f.PoolFactory(name="Backend")
    f.MembershipFactory(pool=pool, interviewer=alice)
    f.MembershipFactory(pool=pool, interviewer=bob)
    f.RoleFactory(session=coding, pool=pool)
    room_role = f.RoleFactory(session=coding, kind=Role.Kind.ROOM, pool=None)
    room_role.rooms.set([room])
    f.RoleFactory(session=design, kind=Role.Kind.INTERVIEWER, pool=None, interviewer=carol)
    org = OrganisationSettings.load()
    org.company_name, org.sender_email, org.reply_to_email = "Acme", "jobs@acme.test", "recruiting@acme.test"
    org.support_contact = "recruiting@acme.test"
    org.save()
    return World(fake=google_fake, mail=mail_fake, connection=connection, plan=plan,
                 people={"alice": alice, "bob": bob, "carol": carol}, room=room, coordinator=coordinator)


@pytest.fixture
def world(db, google_fake, mail_fake, frozen) -> World:
    return build_world(google_fake, mail_fake)
