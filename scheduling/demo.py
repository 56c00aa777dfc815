"""The demo organisation, Northwind Labs, and `demo_load`, which puts it in the database.

The data sits at the top as plain dataclasses (`DEMO_STAFF`, `DEMO_INTERVIEWERS`, `DEMO_POOLS`, `DEMO_ROOMS`,
`DEMO_REQUISITIONS`, `DEMO_CANDIDATES`, ...), so that the provider fakes' seeders can build the same people,
jobs and candidates without reading the database. The loader follows.

Choices made here:
- Idempotent by natural keys: users by username, interviewers by email, pools and rooms by name, requisitions,
  stages, candidates and applications by their ATS external ids, plans by (requisition, name). A row that
  exists is left as it is (edits made in the admin survive a re-run); the rows that belong to it (a plan's
  sessions, an interviewer's working hours, a candidate's request) are created only together with it. Only
  the organisation settings and the demo login's password are put back on every run.
- Time: everything is placed relative to an anchor, `clock.now()` truncated to midnight UTC, so that two runs
  on the same day produce the same rows. Randomness is `random.Random` seeded from 42 (and, for history, from
  the day), never the global generator.
- The current requests are created straight in their state (it is demo data, not a state change), with a
  RequestTransition "demo data" for every step a real request would have taken to get there, each allowed by
  `SchedulingRequest.TRANSITIONS`.
- Booked loops are placed by a small greedy search (`_World.place`), not by the solver: inside every person's and
  room's working hours, off blackout days, with the plan's buffer kept free around every session of a person,
  under the daily and weekly caps, and never overlapping another live booking. Breaks get no InterviewSession
  row (a session row stands for a calendar event with people in it); session positions are the template's.
- History (`history_days`): 2 to 6 new requests per weekday over the last N days, each lived through as a
  timeline (link sent, approval, candidate's pick, reschedule, cancellation, completion); events after the
  anchor are not applied, so recent requests are still open. History candidates' external ids start with
  "hist-YYYYMMDD-", which is how a re-run knows which days are already loaded. History requests get no
  SchedulingLink rows; the current ones do, with tokens from `demo_link_token`.
- Calendars are created but never read: their health stays "not checked yet" until a free/busy sync runs
  against the seeded fakes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import math
import random
import unicodedata
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from django.conf import settings
from django.db import transaction

from integrations.models import AtsConnection, Calendar, CalendarConnection
from scheduling import clock
from scheduling.models import (
    Application,
    AtsStage,
    AvailabilityRule,
    BlackoutDate,
    Candidate,
    Interviewer,
    InterviewerPool,
    InterviewPlan,
    InterviewSession,
    OrganisationSettings,
    PoolMembership,
    ReminderSequence,
    ReminderStep,
    RequestTransition,
    Requisition,
    Role,
    Room,
    ScheduledInterview,
    SchedulingLink,
    SchedulingRequest,
    SessionParticipant,
    SessionTemplate,
    User,
    hash_token,
)

__all__ = [
    "DEMO_ATS", "DEMO_CALENDAR", "DEMO_CANDIDATES", "DEMO_DOMAIN", "DEMO_INTERVIEWERS", "DEMO_LOGIN",
    "DEMO_ORGANISATION", "DEMO_POOLS", "DEMO_REMINDERS", "DEMO_REQUISITIONS", "DEMO_ROOMS", "DEMO_STAFF",
    "HISTORY_PREFIX", "WORKING_HOURS", "DemoCandidate", "DemoInterviewer", "DemoPlan", "DemoPool", "DemoRequisition",
    "DemoRole", "DemoRoom", "DemoSession", "DemoStaff", "demo_anchor", "demo_link_token", "demo_load",
]

UTC = dt.UTC
SEED = 42
DEMO_DOMAIN = "northwind.example"
HISTORY_PREFIX = "hist-"


def _email(name: str) -> str:
    """'Michael O'Brien' -> 'michael.obrien@northwind.example'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    parts = ["".join(ch for ch in word.lower() if ch.isalnum()) for word in ascii_name.split()]
    return ".".join(p for p in parts if p) + "@" + DEMO_DOMAIN


# ---------------------------------------------------------------------------------------------------------------
# The organisation
# ---------------------------------------------------------------------------------------------------------------

DEMO_ORGANISATION = {
    "company_name": "Northwind Labs",
    "sender_email": f"scheduling@{DEMO_DOMAIN}",
    "reply_to_email": f"recruiting@{DEMO_DOMAIN}",
    "support_contact": f"recruiting@{DEMO_DOMAIN} or +44 20 7946 0321",
}

DEMO_LOGIN = {"username": "demo", "email": f"demo@{DEMO_DOMAIN}", "password": "loopwise-demo",
              "first_name": "Dana", "last_name": "Demo", "timezone": "Europe/London"}


@dataclass(frozen=True, slots=True)
class DemoStaff:
    """A member of the recruiting team (a staff user without a password: they would sign in with SSO)."""

    username: str
    name: str
    title: str
    timezone: str

    @property
    def email(self) -> str:
        return _email(self.name)


DEMO_STAFF = (
    DemoStaff("amelia", "Amelia Hart", "Senior Technical Recruiter", "Europe/London"),
    DemoStaff("tom", "Tom Okafor", "Recruiting Coordinator", "Europe/London"),
    DemoStaff("jordan", "Jordan Reyes", "Technical Recruiter", "America/New_York"),
    DemoStaff("keisha", "Keisha Brown", "Recruiting Coordinator", "America/New_York"),
    DemoStaff("meera", "Meera Pillai", "Recruiter", "Asia/Kolkata"),
)

DEMO_ATS = {
    "name": "Northwind Greenhouse",
    "provider": "greenhouse",
    "fallback_email": f"recruiting-ops@{DEMO_DOMAIN}",
    # Obviously fake: the demo talks to the local Greenhouse fake, never to Greenhouse.
    "credentials": {"client_id": "northwind-demo-client", "client_secret": "demo-secret-not-real",
                    "on_behalf_of": "4080001"},
}

DEMO_CALENDAR = {
    "name": "Northwind Google Workspace",
    "provider": "google",
    "auth_mode": "service_account",
    "account_email": f"it-admin@{DEMO_DOMAIN}",
    "organiser_calendar": f"interviews@{DEMO_DOMAIN}",
    # The key itself is made at load time (demo_service_account_info): a real RSA key the local Google fake
    # accepts, never sent anywhere else.
    "client_email": "loopwise-demo@northwind-demo.iam.gserviceaccount.com",
}

# Weekly hours by pattern: (weekdays, start, end) in the person's or room's own zone.
_WEEK = (0, 1, 2, 3, 4)
WORKING_HOURS: dict[str, tuple[tuple[tuple[int, ...], str, str], ...]] = {
    "standard": ((_WEEK, "09:00", "17:30"),),
    "split": ((_WEEK, "09:00", "12:00"), (_WEEK, "13:00", "17:30")),
    "late": ((_WEEK, "10:00", "18:00"),),
    "early": ((_WEEK, "08:00", "16:00"),),
    "four_days": (((0, 1, 2, 3), "09:00", "17:00"),),
    "office": ((_WEEK, "08:00", "19:00"),),
}


@dataclass(frozen=True, slots=True)
class DemoInterviewer:
    """An interviewer. `key` is how pools and plans refer to them; `blackouts` are (days after the anchor,
    reason); `calendar=False` means availability from working hours alone."""

    key: str
    name: str
    title: str
    timezone: str
    hours: str
    max_per_day: int
    max_per_week: int
    calendar: bool = True
    buffer_minutes: int | None = None
    blackouts: tuple[tuple[int, str], ...] = ()

    @property
    def email(self) -> str:
        return _email(self.name)


_LDN, _NYC, _KOL, _LAX = "Europe/London", "America/New_York", "Asia/Kolkata", "America/Los_Angeles"

DEMO_INTERVIEWERS = (
    # London
    DemoInterviewer("amara", "Amara Okonkwo", "Staff Software Engineer", _LDN, "standard", 3, 10),
    DemoInterviewer("oliver", "Oliver Bennett", "Senior Software Engineer", _LDN, "split", 2, 6,
                    blackouts=((3, "Annual leave"), (4, "Annual leave"))),
    DemoInterviewer("sophie", "Sophie Lindqvist", "Senior Software Engineer", _LDN, "late", 2, 8),
    DemoInterviewer("rahul", "Rahul Desai", "Principal Engineer", _LDN, "standard", 2, 6, buffer_minutes=15),
    DemoInterviewer("grace", "Grace Whitfield", "Engineering Manager, Platform", _LDN, "split", 3, 8),
    DemoInterviewer("tomasz", "Tomasz Nowak", "Software Engineer", _LDN, "standard", 3, 8),
    DemoInterviewer("eleanor", "Eleanor Shaw", "Senior Product Manager", _LDN, "standard", 2, 6),
    DemoInterviewer("marcus", "Marcus Reid", "Director of Product", _LDN, "late", 2, 6),
    DemoInterviewer("hannah", "Hannah Clarke", "Senior Product Designer", _LDN, "split", 2, 8),
    DemoInterviewer("yusuf", "Yusuf Demir", "Senior Site Reliability Engineer", _LDN, "early", 3, 8),
    DemoInterviewer("isla", "Isla MacLeod", "Engineering Manager, Reliability", _LDN, "standard", 2, 6),
    DemoInterviewer("benjamin", "Benjamin Cole", "Software Engineer", _LDN, "standard", 2, 6, calendar=False),
    # New York
    DemoInterviewer("jasmine", "Jasmine Wu", "Staff Frontend Engineer", _NYC, "standard", 3, 10,
                    blackouts=((8, "Conference"),)),
    DemoInterviewer("carlos", "Carlos Mendoza", "Senior Frontend Engineer", _NYC, "split", 2, 8),
    DemoInterviewer("rachel", "Rachel Goldstein", "Engineering Manager, Web", _NYC, "late", 3, 8),
    DemoInterviewer("derek", "Derek Johnson", "Senior Software Engineer", _NYC, "standard", 2, 6),
    DemoInterviewer("naomi", "Naomi Fischer", "Frontend Engineer", _NYC, "standard", 2, 6),
    DemoInterviewer("andre", "André Baptiste", "Senior Product Manager", _NYC, "standard", 2, 6),
    DemoInterviewer("lauren", "Lauren Kim", "Software Engineer", _NYC, "standard", 2, 6),
    DemoInterviewer("samuel", "Samuel Osei", "Principal Engineer", _NYC, "early", 2, 6),
    # Kolkata (the Bengaluru office keeps India time)
    DemoInterviewer("ananya", "Ananya Krishnan", "Staff Data Scientist", _KOL, "standard", 3, 10),
    DemoInterviewer("vikram", "Vikram Nair", "Senior Software Engineer", _KOL, "split", 2, 8,
                    blackouts=((2, "Public holiday"),)),
    DemoInterviewer("deepika", "Deepika Rao", "Data Science Manager", _KOL, "standard", 2, 6),
    DemoInterviewer("arnav", "Arnav Bose", "Data Scientist", _KOL, "late", 2, 6),
    DemoInterviewer("kavya", "Kavya Menon", "Senior Data Scientist", _KOL, "standard", 3, 8),
    DemoInterviewer("siddharth", "Siddharth Gupta", "Software Engineer", _KOL, "standard", 2, 6, calendar=False),
    # Los Angeles
    DemoInterviewer("emily", "Emily Tran", "Senior Frontend Engineer", _LAX, "late", 2, 6),
    DemoInterviewer("michael", "Michael O'Brien", "Staff Engineer", _LAX, "standard", 3, 8),
    DemoInterviewer("gabriela", "Gabriela Santos", "Product Designer", _LAX, "four_days", 2, 6),
    DemoInterviewer("noah", "Noah Patel", "Senior Data Scientist", _LAX, "standard", 2, 8),
)

_T, _S, _R = "trained", "shadow", "reverse_shadow"


@dataclass(frozen=True, slots=True)
class DemoPool:
    name: str
    description: str
    members: tuple[tuple[str, str], ...]  # (interviewer key, training)


DEMO_POOLS = (
    DemoPool("Backend coding", "Hands-on coding in Python, Go or Java: data structures and clean code.",
             (("amara", _T), ("oliver", _T), ("sophie", _T), ("yusuf", _T), ("derek", _T), ("vikram", _T),
              ("tomasz", _S), ("siddharth", _S), ("benjamin", _R))),
    DemoPool("System design", "Designing a service end to end: data, scale, failure.",
             (("amara", _T), ("rahul", _T), ("jasmine", _T), ("samuel", _T), ("michael", _T),
              ("vikram", _S), ("yusuf", _R))),
    DemoPool("Frontend", "Building UI in TypeScript and React; accessibility and performance.",
             (("jasmine", _T), ("carlos", _T), ("emily", _T), ("michael", _T), ("naomi", _S), ("lauren", _R))),
    DemoPool("Hiring managers", "Managers who run the hiring-manager conversation.",
             (("grace", _T), ("marcus", _T), ("rachel", _T), ("deepika", _T), ("isla", _T), ("samuel", _S))),
    DemoPool("Values & culture", "How a candidate works with others; run by trained interviewers from any team.",
             (("sophie", _T), ("tomasz", _T), ("eleanor", _T), ("hannah", _T), ("derek", _T), ("kavya", _T),
              ("gabriela", _T), ("benjamin", _S), ("lauren", _S))),
    DemoPool("Product sense", "Product judgement: problem framing, prioritisation, metrics.",
             (("eleanor", _T), ("hannah", _T), ("andre", _T), ("emily", _S), ("gabriela", _R))),
    DemoPool("Data & analytics", "Statistics, experimentation and modelling.",
             (("ananya", _T), ("deepika", _T), ("kavya", _T), ("noah", _T), ("arnav", _S), ("siddharth", _R))),
)


@dataclass(frozen=True, slots=True)
class DemoRoom:
    name: str
    city: str
    timezone: str
    capacity: int
    hours: str = "office"

    @property
    def email(self) -> str:
        return "room-" + _email(self.name.replace(" - ", " "))


DEMO_ROOMS = (
    DemoRoom("London - Thames", "London", _LDN, 8),
    DemoRoom("London - Kew", "London", _LDN, 4),
    DemoRoom("London - Camden", "London", _LDN, 6),
    DemoRoom("New York - Hudson", "New York", _NYC, 8),
    DemoRoom("New York - Chelsea", "New York", _NYC, 4),
    DemoRoom("New York - Brooklyn", "New York", _NYC, 6),
)


@dataclass(frozen=True, slots=True)
class DemoRole:
    kind: str = "pool"  # "pool", "interviewer" or "room"
    pool: str = ""
    interviewer: str = ""  # an interviewer key
    city: str = ""  # room roles: the rooms of this city
    count: int = 1
    optional: bool = False
    trainees: bool = False


@dataclass(frozen=True, slots=True)
class DemoSession:
    name: str
    duration_minutes: int
    roles: tuple[DemoRole, ...] = ()
    is_break: bool = False


@dataclass(frozen=True, slots=True)
class DemoPlan:
    name: str
    stage: str
    sessions: tuple[DemoSession, ...]
    order: str = "fixed"
    buffer_minutes: int = 10
    gap_minutes: int = 0
    step_minutes: int = 15
    min_notice_hours: int = 24
    window_days: int = 14
    requires_approval: bool = False


@dataclass(frozen=True, slots=True)
class DemoRequisition:
    """An open job. `home_timezone` is where its loops are held (the office, or the team of a remote role)."""

    key: str
    title: str
    external_id: str
    department: str
    location: str
    home_timezone: str
    recruiter: str  # staff username
    coordinator: str
    plan: DemoPlan
    stages: tuple[str, ...] = ("Application Review", "Phone Screen", "Onsite", "Offer")
    weight: float = 1.0  # share of the history's requests

    def stage_external_id(self, stage: str) -> str:
        return f"{self.external_id}{self.stages.index(stage) + 1:02d}"


def _pool(name: str, shadow: bool = False) -> tuple[DemoRole, ...]:
    roles = (DemoRole(pool=name),)
    return roles + (DemoRole(pool=name, trainees=True, optional=True),) if shadow else roles


def _fixed(key: str) -> DemoRole:
    return DemoRole(kind="interviewer", interviewer=key)


def _room(city: str) -> DemoRole:
    return DemoRole(kind="room", city=city)


_LUNCH = DemoSession("Lunch", 45, is_break=True)

DEMO_REQUISITIONS = (
    DemoRequisition(
        "backend", "Senior Backend Engineer", "4471001", "Engineering", "London", _LDN, "amelia", "tom",
        DemoPlan("Onsite loop", "Onsite", order="any", sessions=(
            DemoSession("Coding: data structures", 60, (*_pool("Backend coding", shadow=True), _room("London"))),
            DemoSession("System design", 60, (*_pool("System design", shadow=True), _room("London"))),
            _LUNCH,
            DemoSession("Hiring manager conversation", 45, (_fixed("grace"), _room("London"))),
            DemoSession("Values & culture", 45, (*_pool("Values & culture", shadow=True), _room("London"))),
        )),
        weight=1.5),
    DemoRequisition(
        "frontend", "Staff Frontend Engineer", "4471002", "Engineering", "New York", _NYC, "jordan", "keisha",
        DemoPlan("Onsite loop", "Onsite", buffer_minutes=15, min_notice_hours=48, window_days=21, sessions=(
            DemoSession("Frontend coding", 60, (*_pool("Frontend", shadow=True), _room("New York"))),
            DemoSession("Frontend architecture", 60, (*_pool("System design"), _room("New York"))),
            _LUNCH,
            DemoSession("Hiring manager conversation", 45, (_fixed("rachel"), _room("New York"))),
        ))),
    DemoRequisition(
        "pm", "Product Manager, Payments", "4471003", "Product", "London", _LDN, "amelia", "tom",
        DemoPlan("Onsite loop", "Onsite", requires_approval=True, sessions=(
            DemoSession("Product sense", 60, (*_pool("Product sense", shadow=True), _room("London"))),
            DemoSession("Execution & metrics", 45, (*_pool("Product sense"), _room("London"))),
            _LUNCH,
            DemoSession("Values & culture", 45, (*_pool("Values & culture"), _room("London"))),
            DemoSession("Hiring manager conversation", 45, (_fixed("marcus"), _room("London"))),
        ))),
    DemoRequisition(
        "data", "Data Scientist, Growth", "4471004", "Data", "Bengaluru (remote)", _KOL, "meera", "meera",
        DemoPlan("Virtual onsite", "Onsite", order="any", buffer_minutes=5, window_days=10, sessions=(
            DemoSession("Statistics & modelling", 60, _pool("Data & analytics", shadow=True)),
            DemoSession("Coding: data wrangling", 45, _pool("Data & analytics")),
            _LUNCH,
            DemoSession("Leadership conversation", 45, _pool("Hiring managers")),
        ))),
    DemoRequisition(
        "sre", "Site Reliability Engineer", "4471005", "Infrastructure", "Remote (EMEA)", _LDN, "jordan", "tom",
        DemoPlan("Virtual onsite", "Onsite", order="any", step_minutes=30, min_notice_hours=36, sessions=(
            DemoSession("Coding: automation", 60, _pool("Backend coding", shadow=True)),
            DemoSession("System design: reliability", 60, _pool("System design")),
            _LUNCH,
            DemoSession("Values & culture", 45, _pool("Values & culture")),
            DemoSession("Hiring manager conversation", 45, (_fixed("isla"),)),
        ))),
)

DEMO_REMINDERS = {"name": "Standard reminders",
                  "steps": ((24, ReminderStep.Action.REMIND_CANDIDATE), (72, ReminderStep.Action.BOTH))}


@dataclass(frozen=True, slots=True)
class DemoCandidate:
    """A candidate with one application; `state` is the state of its scheduling request (None: no request yet,
    the application is at an earlier stage)."""

    external_id: str
    first_name: str
    last_name: str
    timezone: str
    requisition: str  # a requisition key
    application_id: str
    stage: str
    state: str | None
    phone: str = ""
    domain: str = "mail.example.org"

    @property
    def email(self) -> str:
        local = _email(f"{self.first_name} {self.last_name}").split("@")[0]
        return f"{local}@{self.domain}"


_ST = SchedulingRequest.State
DEMO_CANDIDATES = (
    DemoCandidate("81200101", "Priya", "Raman", "Asia/Kolkata", "backend", "91200101", "Onsite", _ST.BOOKED,
                  "+91 98450 12345"),
    DemoCandidate("81200102", "Mateo", "García", "Europe/Madrid", "backend", "91200102", "Onsite",
                  _ST.AWAITING_CANDIDATE, domain="post.example.org"),
    DemoCandidate("81200103", "Aisha", "Bello", "Africa/Lagos", "frontend", "91200103", "Onsite", _ST.BOOKED,
                  "+234 803 555 0142"),
    DemoCandidate("81200104", "Jonas", "Weber", "Europe/Berlin", "backend", "91200104", "Onsite", _ST.NEW,
                  domain="inbox.example.org"),
    DemoCandidate("81200105", "Mei Lin", "Chen", "America/Los_Angeles", "frontend", "91200105", "Onsite",
                  _ST.AWAITING_CANDIDATE, "+1 415 555 0188"),
    DemoCandidate("81200106", "Oluwaseun", "Adeyemi", "Europe/London", "pm", "91200106", "Onsite",
                  _ST.PENDING_APPROVAL, "+44 7700 900461"),
    DemoCandidate("81200107", "Sofia", "Rossi", "Europe/Rome", "pm", "91200107", "Onsite", _ST.BOOKED,
                  domain="post.example.org"),
    DemoCandidate("81200108", "Arjun", "Mehta", "Asia/Kolkata", "data", "91200108", "Onsite",
                  _ST.NEEDS_ATTENTION, "+91 99000 54321"),
    DemoCandidate("81200109", "Hannah", "Goldberg", "America/New_York", "frontend", "91200109", "Onsite",
                  _ST.CANCELLED, domain="inbox.example.org"),
    DemoCandidate("81200110", "Kenji", "Watanabe", "Asia/Tokyo", "data", "91200110", "Onsite",
                  _ST.AWAITING_CANDIDATE),
    DemoCandidate("81200111", "Fatima Zahra", "El Amrani", "Europe/Paris", "sre", "91200111", "Onsite", _ST.NEW,
                  "+33 6 55 55 01 23"),
    DemoCandidate("81200112", "Lucas", "Oliveira", "America/Sao_Paulo", "sre", "91200112", "Onsite",
                  _ST.NEEDS_ATTENTION, domain="post.example.org"),
    DemoCandidate("81200113", "Emily", "Carter", "America/New_York", "sre", "91200113", "Onsite", _ST.BOOKED,
                  "+1 212 555 0134"),
    DemoCandidate("81200114", "Lan", "Nguyen", "Asia/Ho_Chi_Minh", "data", "91200114", "Onsite", _ST.EXPIRED,
                  domain="inbox.example.org"),
    DemoCandidate("81200115", "Ravi Shankar", "Iyer", "Asia/Kolkata", "backend", "91200115", "Application Review",
                  None),
    DemoCandidate("81200116", "Chloé", "Martin", "Europe/Paris", "pm", "91200116", "Phone Screen", None,
                  domain="post.example.org"),
)

# History candidates' names: drawn at random, deterministically.
_FIRST_NAMES = (
    "Aaliyah", "Adebayo", "Aiko", "Alejandro", "Amina", "Andrei", "Bilal", "Camila", "Chen", "Chidi", "Dmitri",
    "Elif", "Emeka", "Farah", "Freya", "Gustavo", "Hamza", "Ines", "Ivan", "Jae-won", "Kai", "Kwame", "Leila",
    "Liam", "Lucía", "Maya", "Mohammed", "Nadia", "Nikhil", "Noor", "Olga", "Omar", "Pooja", "Rafael", "Rin",
    "Saanvi", "Santiago", "Sarah", "Thabo", "Valentina", "Wei", "Yara", "Zoe", "Zainab",
)
_LAST_NAMES = (
    "Abara", "Ahmed", "Andersson", "Banerjee", "Costa", "Da Silva", "Dubois", "Eze", "Fernández", "Hassan",
    "Hoang", "Ivanova", "Jensen", "Kaur", "Kowalczyk", "Lee", "Lopez", "Mensah", "Moreau", "Müller", "Nakamura",
    "Novak", "O'Connor", "Park", "Petrov", "Rahman", "Reddy", "Sato", "Schmidt", "Singh", "Smith", "Suzuki",
    "Tanaka", "Torres", "Van der Berg", "Wang", "Williams", "Yilmaz", "Zhang",
)
_CANDIDATE_ZONES = ("Europe/London", "Europe/Berlin", "Europe/Madrid", "America/New_York", "America/Chicago",
                    "America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Singapore", "Africa/Lagos")
_CANDIDATE_DOMAINS = ("mail.example.org", "post.example.org", "inbox.example.org")


# ---------------------------------------------------------------------------------------------------------------
# Public helpers
# ---------------------------------------------------------------------------------------------------------------

def demo_anchor() -> dt.datetime:
    """Midnight UTC of today by `clock.now()`: every demo time is placed relative to it."""
    return clock.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def demo_link_token(application_external_id: str) -> str:
    """The scheduling-link token of a demo application's request. Derived from SECRET_KEY, so a demo script
    can open the candidate's page while nobody without the key can guess it."""
    digest = hmac.new(settings.SECRET_KEY.encode(), f"demo-link:{application_external_id}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:32]


def demo_load(*, history_days: int = 0, stdout: TextIO | None = None) -> dict[str, int]:
    """Create the Northwind Labs demo organisation where it is missing, in one transaction.

    With `history_days`, also add that many days of past requests and interviews (days already loaded are
    skipped). Returns the number of rows of the main models after loading and `history_days_added`; writes a
    short summary and the demo login to `stdout` when given. Raises ValueError for a negative `history_days`.
    """
    if history_days < 0:
        raise ValueError("history_days must not be negative")
    anchor = demo_anchor()
    with transaction.atomic():
        _load_organisation()
        staff = _load_staff()
        ats, calendars = _load_connections()
        people = _load_interviewers(calendars, anchor=anchor)
        pools = _load_pools(people)
        rooms = _load_rooms(calendars)
        requisitions = _load_requisitions(ats, staff=staff, people=people, pools=pools, rooms=rooms)
        _load_reminders()
        # Bookings from a week before the oldest new day still count against the weekly caps.
        world = _World.build(requisitions, since=anchor - dt.timedelta(days=history_days + 8))
        _load_current(world, ats=ats, anchor=anchor)
        days_added = _load_history(world, ats=ats, anchor=anchor, days=history_days) if history_days else 0
    counts = _totals()
    counts["history_days_added"] = days_added
    if stdout is not None:
        _print_summary(stdout, counts)
    return counts


# ---------------------------------------------------------------------------------------------------------------
# Configuration rows
# ---------------------------------------------------------------------------------------------------------------

def _hhmm(text: str) -> dt.time:
    h, m = text.split(":")
    return dt.time(int(h) % 24, int(m))


def _rules(pattern: str, **owner) -> list[AvailabilityRule]:
    return [AvailabilityRule(weekday=wd, start=_hhmm(a), end=_hhmm(b), **owner)
            for days, a, b in WORKING_HOURS[pattern] for wd in days]


def _load_organisation() -> None:
    OrganisationSettings.objects.update_or_create(pk=1, defaults=DEMO_ORGANISATION)


def _load_staff() -> dict[str, User]:
    login = DEMO_LOGIN
    demo, created = User.objects.get_or_create(username=login["username"], defaults={
        "email": login["email"], "first_name": login["first_name"], "last_name": login["last_name"],
        "timezone": login["timezone"], "is_staff": True, "is_superuser": True})
    if created or not demo.check_password(login["password"]) or not (demo.is_staff and demo.is_active):
        # The summary promises this login: put it back if someone changed it.
        demo.set_password(login["password"])
        demo.is_staff = demo.is_superuser = demo.is_active = True
        demo.save()
    staff = {demo.username: demo}
    for s in DEMO_STAFF:
        first, last = s.name.split(" ", 1)
        user, created = User.objects.get_or_create(username=s.username, defaults={
            "email": s.email, "first_name": first, "last_name": last, "timezone": s.timezone, "is_staff": True})
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        staff[s.username] = user
    return staff


def _load_connections() -> tuple[AtsConnection, CalendarConnection]:
    a = DEMO_ATS
    ats, _ = AtsConnection.objects.get_or_create(name=a["name"], defaults={
        "provider": a["provider"], "fallback_email": a["fallback_email"], "credentials": a["credentials"]})
    c = DEMO_CALENDAR
    google = settings.CALENDAR_OAUTH["google"]
    calendars, created = CalendarConnection.objects.get_or_create(name=c["name"], defaults={
        **{k: c[k] for k in ("provider", "auth_mode", "account_email", "organiser_calendar")},
        "base_url": google["api_base_url"], "token_url": google["token_url"] if google["api_base_url"] else ""})
    if created:
        calendars.credentials = {"service_account_info": demo_service_account_info(calendars.token_url)}
        calendars.save(update_fields=["credentials"])
    elif google["api_base_url"] and calendars.base_url != google["api_base_url"]:
        # The fakes listen where this run put them.
        calendars.base_url, calendars.token_url = google["api_base_url"], google["token_url"]
        calendars.save(update_fields=["base_url", "token_url"])
    return ats, calendars


def demo_service_account_info(token_url: str) -> dict:
    """A service-account key file in Google's shape, with a fresh RSA key (for the local fake only)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "northwind-demo", "private_key_id": "demo-key-1",
            "private_key": pem, "client_email": DEMO_CALENDAR["client_email"], "client_id": "100000000000000000001",
            "token_uri": token_url or "https://oauth2.googleapis.com/token"}


def _load_interviewers(connection: CalendarConnection, *, anchor: dt.datetime) -> dict[str, Interviewer]:
    people: dict[str, Interviewer] = {}
    rules: list[AvailabilityRule] = []
    blackouts: list[BlackoutDate] = []
    for d in DEMO_INTERVIEWERS:
        person, created = Interviewer.objects.get_or_create(email=d.email, defaults={
            "name": d.name, "title": d.title, "timezone": d.timezone, "max_per_day": d.max_per_day,
            "max_per_week": d.max_per_week, "buffer_minutes": d.buffer_minutes,
            "availability_source": Interviewer.Source.CALENDAR if d.calendar else Interviewer.Source.WORKING_HOURS})
        if created:
            if d.calendar:
                person.calendar, _ = Calendar.objects.get_or_create(
                    connection=connection, external_id=d.email, defaults={"kind": Calendar.Kind.PERSON})
                person.save(update_fields=["calendar"])
            rules += _rules(d.hours, interviewer=person)
            blackouts += [BlackoutDate(interviewer=person, date=(anchor + dt.timedelta(days=n)).date(), reason=why)
                          for n, why in d.blackouts]
        people[d.key] = person
    AvailabilityRule.objects.bulk_create(rules)
    BlackoutDate.objects.bulk_create(blackouts)
    return people


def _load_pools(people: dict[str, Interviewer]) -> dict[str, InterviewerPool]:
    pools: dict[str, InterviewerPool] = {}
    for d in DEMO_POOLS:
        pool, created = InterviewerPool.objects.get_or_create(name=d.name, defaults={"description": d.description})
        if created:
            PoolMembership.objects.bulk_create([PoolMembership(pool=pool, interviewer=people[key], training=training)
                                                for key, training in d.members])
        pools[d.name] = pool
    return pools


def _load_rooms(connection: CalendarConnection) -> dict[str, Room]:
    rooms: dict[str, Room] = {}
    for d in DEMO_ROOMS:
        room, created = Room.objects.get_or_create(name=d.name, defaults={"timezone": d.timezone,
                                                                           "capacity": d.capacity})
        if created:
            room.calendar, _ = Calendar.objects.get_or_create(connection=connection, external_id=d.email,
                                                              defaults={"kind": Calendar.Kind.ROOM})
            room.save(update_fields=["calendar"])
            AvailabilityRule.objects.bulk_create(_rules(d.hours, room=room))
        rooms[d.name] = room
    return rooms


def _load_requisitions(ats: AtsConnection, *, staff: dict[str, User], people: dict[str, Interviewer],
                       pools: dict[str, InterviewerPool], rooms: dict[str, Room]) -> list[tuple[DemoRequisition,
                                                                                                Requisition]]:
    out = []
    for d in DEMO_REQUISITIONS:
        req, _ = Requisition.objects.get_or_create(ats_connection=ats, external_id=d.external_id, defaults={
            "title": d.title, "department": d.department, "location": d.location,
            "recruiter": staff[d.recruiter], "coordinator": staff[d.coordinator]})
        stages = {}
        for position, name in enumerate(d.stages):
            stages[name], _ = AtsStage.objects.get_or_create(
                requisition=req, external_id=d.stage_external_id(name), defaults={"name": name, "position": position})
        p = d.plan
        plan, created = InterviewPlan.objects.get_or_create(requisition=req, name=p.name, defaults={
            "stage": stages[p.stage], "order": p.order, "buffer_minutes": p.buffer_minutes,
            "gap_minutes": p.gap_minutes, "step_minutes": p.step_minutes, "min_notice_hours": p.min_notice_hours,
            "window_days": p.window_days, "requires_approval": p.requires_approval})
        if created:
            _create_sessions(plan, p, people=people, pools=pools, rooms=rooms)
        out.append((d, req))
    return out


def _create_sessions(plan: InterviewPlan, spec: DemoPlan, *, people: dict[str, Interviewer],
                     pools: dict[str, InterviewerPool], rooms: dict[str, Room]) -> None:
    for position, s in enumerate(spec.sessions):
        template = SessionTemplate.objects.create(plan=plan, position=position, name=s.name,
                                                  duration_minutes=s.duration_minutes, is_break=s.is_break)
        for r in s.roles:
            role = Role.objects.create(
                session=template, kind=r.kind, count=r.count, optional=r.optional, trainees=r.trainees,
                pool=pools[r.pool] if r.kind == Role.Kind.POOL else None,
                interviewer=people[r.interviewer] if r.kind == Role.Kind.INTERVIEWER else None)
            if r.kind == Role.Kind.ROOM:
                role.rooms.set([rooms[d.name] for d in DEMO_ROOMS if d.city == r.city])


def _load_reminders() -> None:
    sequence, created = ReminderSequence.objects.get_or_create(name=DEMO_REMINDERS["name"], plan=None)
    if created:
        ReminderStep.objects.bulk_create([ReminderStep(sequence=sequence, position=i, delay_hours=hours, action=act)
                                          for i, (hours, act) in enumerate(DEMO_REMINDERS["steps"])])


# ---------------------------------------------------------------------------------------------------------------
# Placing loops: who is free when
# ---------------------------------------------------------------------------------------------------------------

Range = tuple[int, int]  # minutes after local midnight, end exclusive (1440 = midnight)


def _hours_by_weekday(rules: Iterable[AvailabilityRule]) -> dict[int, list[Range]]:
    out: dict[int, list[Range]] = defaultdict(list)
    for r in rules:
        end = 1440 if r.end == dt.time(0) else r.end.hour * 60 + r.end.minute
        out[r.weekday].append((r.start.hour * 60 + r.start.minute, end))
    return dict(out)


_OFFICE_HOURS = {wd: [(9 * 60, 17 * 60)] for wd in range(5)}  # as the problem builder reads "no rule"


@dataclass
class _Person:
    row: Interviewer
    tz: zoneinfo.ZoneInfo
    hours: dict[int, list[Range]]
    blackouts: set[dt.date]


@dataclass
class _RoomInfo:
    row: Room
    tz: zoneinfo.ZoneInfo
    hours: dict[int, list[Range]] | None  # None: no rule, the building never closes


@dataclass
class _Plan:
    row: InterviewPlan
    spec: DemoRequisition
    requisition: Requisition
    home: zoneinfo.ZoneInfo
    templates: list[SessionTemplate]
    stage: AtsStage | None
    next_stage: AtsStage | None  # where a completed loop's application may go (the stage after the plan's)


@dataclass
class _PlacedSession:
    template: SessionTemplate
    start: dt.datetime
    end: dt.datetime
    room: _RoomInfo | None = None
    people: list[tuple[_Person, str, dt.datetime, dt.datetime]] = field(default_factory=list)  # part, busy range


@dataclass
class _Loop:
    sessions: list[_PlacedSession]
    start: dt.datetime
    end: dt.datetime
    code: str  # the video meeting's code


def _fits(hours: dict[int, list[Range]] | None, tz: zoneinfo.ZoneInfo, start: dt.datetime, minutes: int) -> bool:
    if hours is None:
        return True
    local = start.astimezone(tz)
    begin = local.hour * 60 + local.minute
    return any(a <= begin and begin + minutes <= b for a, b in hours.get(local.weekday(), ()))


def _overlaps(bucket: dict, key, start: dt.datetime, end: dt.datetime) -> bool:
    day = start.date()
    for d in (day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)):
        for a, b in bucket.get((key, d), ()):
            if a < end and start < b:
                return True
    return False


class _World:
    """The demo's people, rooms and plans as read from the database, and a diary of who is booked when, so that
    demo loops keep to working hours, caps and buffers and never overlap one another."""

    def __init__(self, people: dict[int, _Person], rooms: dict[int, _RoomInfo], plans: list[_Plan],
                 members: dict[tuple[int, str], list[_Person]]):
        self.people, self.rooms, self.plans, self.members = people, rooms, plans, members
        self.busy: dict[tuple, list[tuple[dt.datetime, dt.datetime]]] = defaultdict(list)  # (key, utc date)
        self.day_count: Counter = Counter()  # (person pk, local date)
        self.week_count: Counter = Counter()  # (person pk, iso year, iso week)

    @classmethod
    def build(cls, requisitions: list[tuple[DemoRequisition, Requisition]], *, since: dt.datetime) -> _World:
        people = {}
        rules = defaultdict(list)
        for r in AvailabilityRule.objects.all():
            rules[("i", r.interviewer_id) if r.interviewer_id else ("r", r.room_id)].append(r)
        blackouts = defaultdict(set)
        for pk, day in BlackoutDate.objects.values_list("interviewer_id", "date"):
            blackouts[pk].add(day)
        for p in Interviewer.objects.filter(active=True):
            people[p.pk] = _Person(p, zoneinfo.ZoneInfo(p.timezone),
                                   _hours_by_weekday(rules[("i", p.pk)]) or _OFFICE_HOURS, blackouts[p.pk])
        rooms = {r.pk: _RoomInfo(r, zoneinfo.ZoneInfo(r.timezone), _hours_by_weekday(rules[("r", r.pk)]) or None)
                 for r in Room.objects.filter(active=True)}
        members: dict[tuple[int, str], list[_Person]] = defaultdict(list)
        for m in PoolMembership.objects.order_by("pool_id", "interviewer_id"):
            if m.interviewer_id in people:
                members[(m.pool_id, m.training)].append(people[m.interviewer_id])
        plans = []
        for spec, req in requisitions:
            stages = list(req.stages.all())
            for row in req.plans.filter(active=True).prefetch_related("sessions__roles__rooms"):
                templates = sorted(row.sessions.all(), key=lambda t: (t.position, t.pk))
                later = [s for s in stages if row.stage and s.position > row.stage.position]
                plans.append(_Plan(row, spec, req, zoneinfo.ZoneInfo(spec.home_timezone), templates, row.stage,
                                   later[0] if later else None))
        world = cls(people, rooms, plans, members)
        world._read_bookings(since)
        return world

    def _read_bookings(self, since: dt.datetime) -> None:
        live = SessionParticipant.objects.filter(active=True, session__interview__state=ScheduledInterview.State.ACTIVE,
                                                 busy_end__gte=since)
        for pk, bs, be, start in live.values_list("interviewer_id", "busy_start", "busy_end", "session__start"):
            if pk in self.people:
                self._mark_person(self.people[pk], bs, be, start)
        rooms = InterviewSession.objects.filter(interview__state=ScheduledInterview.State.ACTIVE, end__gte=since,
                                                room__isnull=False)
        for pk, start, end in rooms.values_list("room_id", "start", "end"):
            self.busy[(("r", pk), start.date())].append((start, end))

    def _mark_person(self, p: _Person, bs: dt.datetime, be: dt.datetime, start: dt.datetime, n: int = 1) -> None:
        key = (("i", p.row.pk), bs.date())
        if n > 0:
            self.busy[key].append((bs, be))
        else:
            self.busy[key].remove((bs, be))
        local = start.astimezone(p.tz).date()
        self.day_count[(p.row.pk, local)] += n
        self.week_count[(p.row.pk, *local.isocalendar()[:2])] += n

    def book(self, loop: _Loop) -> None:
        for s in loop.sessions:
            for p, _part, bs, be in s.people:
                self._mark_person(p, bs, be, s.start)
            if s.room:
                self.busy[(("r", s.room.row.pk), s.start.date())].append((s.start, s.end))

    def release(self, loop: _Loop) -> None:
        for s in loop.sessions:
            for p, _part, bs, be in s.people:
                self._mark_person(p, bs, be, s.start, n=-1)
            if s.room:
                self.busy[(("r", s.room.row.pk), s.start.date())].remove((s.start, s.end))

    def person_free(self, p: _Person, plan: _Plan, start: dt.datetime, end: dt.datetime) -> bool:
        minutes = int((end - start).total_seconds() // 60)
        if not _fits(p.hours, p.tz, start, minutes):
            return False
        local = start.astimezone(p.tz).date()
        if local in p.blackouts:
            return False
        r = p.row
        if r.max_per_day is not None and self.day_count[(r.pk, local)] >= r.max_per_day:
            return False
        if r.max_per_week is not None and self.week_count[(r.pk, *local.isocalendar()[:2])] >= r.max_per_week:
            return False
        pad = dt.timedelta(minutes=r.buffer_minutes if r.buffer_minutes is not None else plan.row.buffer_minutes)
        return not _overlaps(self.busy, ("i", r.pk), start - pad, end + pad)

    def room_free(self, room: _RoomInfo, start: dt.datetime, end: dt.datetime) -> bool:
        minutes = int((end - start).total_seconds() // 60)
        return _fits(room.hours, room.tz, start, minutes) and not _overlaps(self.busy, ("r", room.row.pk), start, end)

    def place(self, plan: _Plan, *, earliest: dt.datetime, latest: dt.datetime, rng: random.Random) -> _Loop | None:
        """Book the first loop found on the earliest workable day in the plan's home zone, starting between
        09:00 and 15:45 local at a random time of that day, preferring times that put the break at lunchtime;
        None when the window holds none."""
        gap = plan.row.gap_minutes
        length = sum(t.duration_minutes for t in plan.templates) + gap * (len(plan.templates) - 1)
        lunch = None  # minutes from the loop's start to its first break
        for i, t in enumerate(plan.templates):
            if t.is_break:
                lunch = sum(x.duration_minutes + gap for x in plan.templates[:i])
                break
        day = earliest.astimezone(plan.home).date()
        while day <= latest.astimezone(plan.home).date():
            if day.weekday() < 5:
                minutes = list(range(9 * 60, 16 * 60, max(plan.row.step_minutes, 15)))
                rng.shuffle(minutes)
                if lunch is not None:  # a stable sort keeps the shuffle within each group
                    minutes.sort(key=lambda m: not 11 * 60 + 30 <= m + lunch <= 13 * 60 + 30)
                for m in minutes:
                    start = (dt.datetime.combine(day, dt.time(0), tzinfo=plan.home)
                             + dt.timedelta(minutes=m)).astimezone(UTC)
                    if start < earliest or start + dt.timedelta(minutes=length) > latest:
                        continue
                    loop = self._try(plan, start, rng)
                    if loop is not None:
                        self.book(loop)
                        return loop
            day += dt.timedelta(days=1)
        return None

    def _try(self, plan: _Plan, start: dt.datetime, rng: random.Random) -> _Loop | None:
        placed: list[_PlacedSession] = []
        taken: set[int] = set()
        at = start
        room: _RoomInfo | None = None
        for t in plan.templates:
            s = _PlacedSession(t, at, at + dt.timedelta(minutes=t.duration_minutes))
            at = s.end + dt.timedelta(minutes=plan.row.gap_minutes)
            if t.is_break:
                continue
            for role in t.roles.all():
                if role.kind == Role.Kind.ROOM:
                    allowed = [self.rooms[r.pk] for r in role.rooms.all() if r.pk in self.rooms] or \
                        list(self.rooms.values())
                    if room is not None and room in allowed:  # keep the candidate in one room when it is free
                        allowed = [room] + [r for r in allowed if r is not room]
                    s.room = next((r for r in allowed if self.room_free(r, s.start, s.end)), None)
                    if s.room is None:
                        return None
                    room = s.room
                    continue
                if not self._fill(plan, role, s, taken, rng):
                    return None
            placed.append(s)
        code = "".join(rng.choice("abcdefghijkmnopqrstuvwxyz") for _ in range(10))
        end = at - dt.timedelta(minutes=plan.row.gap_minutes)
        return _Loop(placed, start, end, f"{code[:3]}-{code[3:7]}-{code[7:]}")

    def _fill(self, plan: _Plan, role: Role, s: _PlacedSession, taken: set[int], rng: random.Random) -> bool:
        """Seat `role` in session `s`; False when a required role cannot be filled."""
        Part, Training = SessionParticipant.Part, PoolMembership.Training
        if role.kind == Role.Kind.INTERVIEWER:
            fixed = self.people.get(role.interviewer_id)
            pool, part = [fixed] if fixed else [], Part.INTERVIEWER
        elif role.trainees:
            pool, part = list(self.members[(role.pool_id, Training.SHADOW)]), Part.SHADOW
        else:
            pool, part = list(self.members[(role.pool_id, Training.TRAINED)]), Part.INTERVIEWER
        rng.shuffle(pool)
        chosen = [p for p in pool if p.row.pk not in taken and self.person_free(p, plan, s.start, s.end)][:role.count]
        if len(chosen) < role.count:
            return role.optional
        lead = None
        if part == Part.INTERVIEWER and role.kind == Role.Kind.POOL and plan.row.allow_reverse_shadow \
                and rng.random() < 0.15:
            # Now and then a reverse shadow leads, with the trained member watching.
            leads = [p for p in self.members[(role.pool_id, Training.REVERSE_SHADOW)]
                     if p.row.pk not in taken and self.person_free(p, plan, s.start, s.end)]
            lead = rng.choice(leads) if leads else None
        if lead is not None:
            chosen = [lead, chosen[0]]
        for i, p in enumerate(chosen):
            this = part if lead is None else (Part.REVERSE_SHADOW if i == 0 else Part.OVERSEER)
            pad = dt.timedelta(minutes=p.row.buffer_minutes if p.row.buffer_minutes is not None
                               else plan.row.buffer_minutes)
            s.people.append((p, this, s.start - pad, s.end + pad))
            taken.add(p.row.pk)
        return True


# ---------------------------------------------------------------------------------------------------------------
# Requests as stories: what happened to each, then written in bulk
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class _Story:
    candidate: Candidate
    application: Application
    created: dt.datetime
    request: SchedulingRequest | None = None
    moves: list[tuple[dt.datetime, str, str, str, User | None]] = field(default_factory=list)
    loops: list[tuple[_Loop, dt.datetime, str]] = field(default_factory=list)  # loop, booked at, interview state
    link: tuple[str, dt.datetime, dt.datetime, dt.datetime | None] | None = None  # token, sent, expires, revoked

    @property
    def last_activity(self) -> dt.datetime:
        return self.moves[-1][0] if self.moves else self.created


class _Timeline:
    """Moves a story's request along allowed transitions, dropping every event after the anchor."""

    def __init__(self, story: _Story, *, anchor: dt.datetime, cause: str):
        self.story, self.anchor, self.cause = story, anchor, cause
        self.state = SchedulingRequest.State.NEW
        self.stopped = False

    def move(self, at: dt.datetime, to: str, why: str = "", actor: User | None = None) -> bool:
        """Record the move if it happened by the anchor; once one did not, later ones do not either."""
        if self.stopped or at > self.anchor:
            self.stopped = True
            return False
        if to not in SchedulingRequest.TRANSITIONS[self.state]:
            raise RuntimeError(f"demo data would move {self.state} -> {to}")
        cause = f"{self.cause}: {why}" if why else self.cause
        self.story.moves.append((at, self.state, to, cause, actor))
        req = self.story.request
        if to == SchedulingRequest.State.AWAITING_CANDIDATE and req.link_sent_at is None:
            req.link_sent_at = at
        if to == SchedulingRequest.State.BOOKED and req.booked_at is None:
            req.booked_at = at
        self.state = req.state = to
        req.state_changed_at = at
        return True


def _new_story(plan: _Plan, ats: AtsConnection, *, created: dt.datetime, external_id: str, application_id: str,
               first: str, last: str, email: str, timezone: str, phone: str = "") -> _Story:
    candidate = Candidate(first_name=first, last_name=last, email=email, phone=phone, timezone=timezone,
                          ats_connection=ats, external_id=external_id)
    application = Application(candidate=candidate, requisition=plan.requisition, ats_connection=ats,
                              external_id=application_id, stage=plan.stage, stage_entered_at=created)
    story = _Story(candidate, application, created)
    story.request = SchedulingRequest(application=application, plan=plan.row, coordinator=plan.requisition.coordinator,
                                      candidate_timezone=timezone)
    return story


def _hours(h: float) -> dt.timedelta:
    return dt.timedelta(hours=h)


def _send_link(t: _Timeline, plan: _Plan, at: dt.datetime, rng: random.Random, why: str = "link sent") -> bool:
    """new (or needs attention) -> awaiting candidate, through approval when the plan asks for it."""
    coordinator = plan.requisition.coordinator
    if plan.row.requires_approval and t.state == SchedulingRequest.State.NEW:
        if not t.move(at, SchedulingRequest.State.PENDING_APPROVAL, "waiting for approval"):
            return False
        at += _hours(min(rng.lognormvariate(math.log(3), 0.9), 40))
        return t.move(at, SchedulingRequest.State.AWAITING_CANDIDATE, "approved; link sent", coordinator)
    return t.move(at, SchedulingRequest.State.AWAITING_CANDIDATE, why)


def _link_for(story: _Story, plan: _Plan) -> None:
    req = story.request
    if req.link_sent_at is None:
        return
    token = demo_link_token(story.application.external_id)
    sent = req.link_sent_at
    revoked = req.state_changed_at if req.state == SchedulingRequest.State.CANCELLED else None
    story.link = (token, sent, sent + _hours(plan.row.link_expiry_hours), revoked)


def _current_story(d: DemoCandidate, plan: _Plan, world: _World, ats: AtsConnection, *, anchor: dt.datetime,
                   index: int, rng: random.Random) -> _Story:
    """One of today's requests, brought to the state `d.state` says by the moves a real one would have made."""
    S = SchedulingRequest.State
    days, hour = {S.NEW: (1, 16), S.PENDING_APPROVAL: (1, 11), S.NEEDS_ATTENTION: (1, 9),
                  S.AWAITING_CANDIDATE: (2, 10), S.BOOKED: (6, 10), S.CANCELLED: (8, 14),
                  S.EXPIRED: (9, 9)}.get(d.state, (12, 10))
    created = anchor - dt.timedelta(days=days) + dt.timedelta(hours=hour, minutes=7 * index)
    story = _new_story(plan, ats, created=created, external_id=d.external_id, application_id=d.application_id,
                       first=d.first_name, last=d.last_name, email=d.email, timezone=d.timezone, phone=d.phone)
    stage = next((s for s in plan.requisition.stages.all() if s.name == d.stage), None)
    story.application.stage = stage
    if d.state is None:
        story.request = None
        return story
    t = _Timeline(story, anchor=anchor, cause="demo data")
    sent = created + dt.timedelta(minutes=7)
    if d.state == S.NEEDS_ATTENTION:
        t.move(sent, S.NEEDS_ATTENTION)
    elif d.state == S.PENDING_APPROVAL:
        t.move(sent, S.PENDING_APPROVAL)
    elif d.state != S.NEW:
        _send_link(t, plan, sent, rng)
    if d.state == S.BOOKED:
        picked = anchor - dt.timedelta(days=2) + dt.timedelta(hours=15, minutes=7 * index)
        earliest = max(picked + _hours(plan.row.min_notice_hours), anchor + dt.timedelta(days=1 + index % 5))
        loop = world.place(plan, earliest=earliest, latest=anchor + dt.timedelta(days=plan.row.window_days + 7),
                           rng=rng)
        if loop is not None and t.move(picked, S.BOOKED):
            story.loops.append((loop, picked, ScheduledInterview.State.ACTIVE))
    elif d.state == S.CANCELLED:
        t.move(story.request.state_changed_at + _hours(51), S.CANCELLED, "", plan.requisition.coordinator)
        story.application.active = False
    elif d.state == S.EXPIRED:
        t.move(story.request.link_sent_at + _hours(plan.row.link_expiry_hours), S.EXPIRED)
    if story.request.state != d.state:
        raise RuntimeError(f"demo candidate {d.external_id} ended {story.request.state}, not {d.state}")
    _link_for(story, plan)
    return story


def _history_story(plan: _Plan, world: _World, ats: AtsConnection, *, day: dt.date, n: int, anchor: dt.datetime,
                   rng: random.Random) -> _Story:
    """One past request, lived through: link, maybe approval or a hitch, the candidate's pick, and its end."""
    S, IS = SchedulingRequest.State, ScheduledInterview.State
    created = dt.datetime.combine(day, dt.time(7), tzinfo=UTC) + dt.timedelta(minutes=rng.randrange(11 * 60))
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    local = _email(f"{first} {last}").split("@")[0]
    key = f"{HISTORY_PREFIX}{day:%Y%m%d}-{n:02d}"
    story = _new_story(plan, ats, created=created, external_id=key, application_id=key, first=first, last=last,
                       email=f"{local}.{day:%y%m%d}{n}@{rng.choice(_CANDIDATE_DOMAINS)}",
                       timezone=rng.choice(_CANDIDATE_ZONES))
    t = _Timeline(story, anchor=anchor, cause="demo history")
    coordinator = plan.requisition.coordinator
    at = created + dt.timedelta(minutes=rng.randint(1, 20))
    if rng.random() < 0.07:  # no times found at first; the coordinator widens the window
        if not t.move(at, S.NEEDS_ATTENTION, "no times found"):
            return story
        at += _hours(rng.uniform(2, 30))
        if not t.move(at, S.AWAITING_CANDIDATE, "coordinator found times; link sent", coordinator):
            return story
    elif not _send_link(t, plan, at, rng):
        return story
    sent = story.request.link_sent_at
    fate = rng.random()
    if fate < 0.07:  # the candidate withdrew
        if t.move(sent + _hours(rng.uniform(2, 96)), S.CANCELLED, "candidate withdrew", coordinator):
            story.application.active = False
        return story
    picked = sent + _hours(min(max(rng.lognormvariate(math.log(16), 1.0), 0.2), 100))
    if fate < 0.13:  # the link ran out; sometimes sent again
        expired = sent + _hours(plan.row.link_expiry_hours)
        if not t.move(expired, S.EXPIRED, "link expired"):
            return story
        if rng.random() < 0.5:
            if t.move(expired + _hours(rng.uniform(20, 72)), S.CANCELLED, "closed after no reply", coordinator):
                story.application.active = False
            return story
        resent = expired + _hours(rng.uniform(2, 24))
        if not t.move(resent, S.AWAITING_CANDIDATE, "new link sent", coordinator):
            return story
        picked = resent + _hours(rng.uniform(1, 48))
    if picked > anchor:
        return story
    # Candidates pick a day spread over the first half of what is left of the window.
    earliest, latest = picked + _hours(plan.row.min_notice_hours), sent + dt.timedelta(days=plan.row.window_days)
    earliest += max(latest - earliest, dt.timedelta(0)) * rng.uniform(0, 0.5)
    loop = world.place(plan, earliest=earliest, latest=latest, rng=rng)
    if loop is None:  # nothing left by the time the candidate looked
        if t.move(picked, S.NEEDS_ATTENTION, "no times left") and \
                t.move(picked + _hours(rng.uniform(20, 72)), S.CANCELLED, "role filled", coordinator):
            story.application.active = False
        return story
    t.move(picked, S.BOOKED, "candidate picked a time")
    story.loops.append((loop, picked, IS.ACTIVE))
    fate = rng.random()
    cutoff = loop.start - _hours(plan.row.reschedule_cutoff_hours)
    if fate < 0.05 and cutoff > picked:  # rescheduled once
        moved_at = picked + (cutoff - picked) * rng.uniform(0.2, 0.8)
        world.release(loop)
        again = world.place(plan, earliest=max(moved_at + _hours(plan.row.min_notice_hours),
                                               loop.start + dt.timedelta(days=1)),
                            latest=loop.start + dt.timedelta(days=10), rng=rng)
        if again is not None and t.move(moved_at, S.BOOKED, "candidate rescheduled"):
            story.loops[-1] = (loop, picked, IS.SUPERSEDED)
            story.loops.append((again, moved_at, IS.ACTIVE))
            loop = again
        else:
            if again is not None:
                world.release(again)
            world.book(loop)
    elif fate < 0.10 and loop.start > picked + _hours(2):  # cancelled before the day
        cancelled = picked + (loop.start - picked) * rng.uniform(0.1, 0.9)
        if t.move(cancelled, S.CANCELLED, "candidate withdrew", coordinator):
            world.release(loop)
            story.loops[-1] = (loop, picked, IS.CANCELLED)
            story.application.active = False
        return story
    if t.move(loop.end + _hours(rng.uniform(1, 8)), S.COMPLETED, "interview took place") and \
            plan.next_stage is not None and rng.random() < 0.35:
        story.application.stage = plan.next_stage
        story.application.stage_entered_at = story.request.state_changed_at
    return story


def _save_stories(stories: list[_Story]) -> None:
    """Write the stories in bulk, then backdate the columns that `auto_now_add` set to the real time."""
    if not stories:
        return
    Candidate.objects.bulk_create([s.candidate for s in stories])
    Application.objects.bulk_create([s.application for s in stories])
    told = [s for s in stories if s.request is not None]
    for s in told:
        s.request.state_changed_at = s.last_activity
    SchedulingRequest.objects.bulk_create([s.request for s in told])
    RequestTransition.objects.bulk_create([
        RequestTransition(request=s.request, old_state=old, new_state=new, cause=cause, actor=actor, at=at)
        for s in told for at, old, new, cause, actor in s.moves])
    SchedulingLink.objects.bulk_create([
        SchedulingLink(request=s.request, token_hash=hash_token(token), created_at=sent, expires_at=expires,
                       revoked_at=revoked, last_used_at=s.request.booked_at)
        for s in told if s.link for token, sent, expires, revoked in [s.link]])
    interviews, sessions, participants = [], [], []
    for s in told:
        for revision, (loop, booked, state) in enumerate(s.loops, start=1):
            interview = ScheduledInterview(request=s.request, revision=revision, state=state, start=loop.start,
                                           end=loop.end, video_link=f"https://meet.google.com/{loop.code}",
                                           conference_id=loop.code, created_at=booked)
            interviews.append(interview)
            for ps in loop.sessions:
                session = InterviewSession(interview=interview, template=ps.template, position=ps.template.position,
                                           name=ps.template.name, start=ps.start, end=ps.end,
                                           room=ps.room.row if ps.room else None,
                                           active=state == ScheduledInterview.State.ACTIVE)
                sessions.append(session)
                participants += [SessionParticipant(session=session, interviewer=p.row, part=part, busy_start=bs,
                                                    busy_end=be, active=state == ScheduledInterview.State.ACTIVE)
                                 for p, part, bs, be in ps.people]
    ScheduledInterview.objects.bulk_create(interviews)
    InterviewSession.objects.bulk_create(sessions)
    SessionParticipant.objects.bulk_create(participants)
    for s in stories:
        s.candidate.created_at = s.application.created_at = s.created
        s.candidate.last_activity_at = s.last_activity
    for s in told:
        s.request.created_at, s.request.state_changed_at = s.created, s.last_activity
    Candidate.objects.bulk_update([s.candidate for s in stories], ["created_at", "last_activity_at"], batch_size=500)
    Application.objects.bulk_update([s.application for s in stories], ["created_at"], batch_size=500)
    SchedulingRequest.objects.bulk_update([s.request for s in told], ["created_at", "state_changed_at"],
                                          batch_size=500)


def _plans_by_key(world: _World) -> dict[str, _Plan]:
    return {p.spec.key: p for p in sorted(world.plans, key=lambda p: p.row.pk, reverse=True)}


def _load_current(world: _World, *, ats: AtsConnection, anchor: dt.datetime) -> None:
    wanted = [d.external_id for d in DEMO_CANDIDATES]
    existing = set(Candidate.objects.filter(ats_connection=ats, external_id__in=wanted)
                   .values_list("external_id", flat=True))
    plans = _plans_by_key(world)
    rng = random.Random(SEED)
    stories = [_current_story(d, plans[d.requisition], world, ats, anchor=anchor, index=i, rng=rng)
               for i, d in enumerate(DEMO_CANDIDATES) if d.external_id not in existing and d.requisition in plans]
    _save_stories(stories)


def _load_history(world: _World, *, ats: AtsConnection, anchor: dt.datetime, days: int) -> int:
    """Add the weekdays of the last `days` days that are not loaded yet; returns how many days were added."""
    loaded = {key[len(HISTORY_PREFIX):len(HISTORY_PREFIX) + 8] for key in Candidate.objects.filter(
        ats_connection=ats, external_id__startswith=HISTORY_PREFIX).values_list("external_id", flat=True)}
    plans = sorted(world.plans, key=lambda p: p.spec.key)
    if not plans:
        return 0
    weights = [p.spec.weight for p in plans]
    stories: list[_Story] = []
    added = 0
    for back in range(days, 0, -1):  # oldest first, so that the diary fills in time order
        day = (anchor - dt.timedelta(days=back)).date()
        if day.weekday() >= 5 or f"{day:%Y%m%d}" in loaded:
            continue
        rng = random.Random(SEED * 1_000_003 + day.toordinal())
        for n in range(rng.randint(2, 6)):
            plan = rng.choices(plans, weights)[0]
            stories.append(_history_story(plan, world, ats, day=day, n=n, anchor=anchor, rng=rng))
        added += 1
    _save_stories(stories)
    return added


# ---------------------------------------------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------------------------------------------

def _totals() -> dict[str, int]:
    return {
        "interviewers": Interviewer.objects.count(),
        "pools": InterviewerPool.objects.count(),
        "rooms": Room.objects.count(),
        "requisitions": Requisition.objects.count(),
        "plans": InterviewPlan.objects.count(),
        "candidates": Candidate.objects.count(),
        "requests": SchedulingRequest.objects.count(),
        "interviews": ScheduledInterview.objects.filter(state=ScheduledInterview.State.ACTIVE).count(),
    }


def _print_summary(out: TextIO, counts: dict[str, int]) -> None:
    parts = ", ".join(f"{counts[k]} {k}" for k in ("interviewers", "pools", "rooms", "requisitions", "plans",
                                                     "candidates", "requests", "interviews"))
    out.write(f"{DEMO_ORGANISATION['company_name']} demo loaded: {parts}.\n")
    if counts["history_days_added"]:
        out.write(f"History: added {counts['history_days_added']} weekdays of past requests.\n")
    out.write(f"Sign in at /admin/ as {DEMO_LOGIN['username']} / {DEMO_LOGIN['password']}.\n")
