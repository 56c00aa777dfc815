"""The benchmark's organisation: who works where, which requisitions they interview for, and who applies.

`Shape(interviewers, candidates)` fixes everything else, deterministically, so the benchmark's process and the
seeding process (`seed_database`, run in the stack's own environment through `Stack.call`) agree on every id:
- one requisition per PANEL interviewers (500 -> 50), each in one of five offices (its zone), with a panel of its
  own, in four pools: three on "Coding", three on "System design", two on "Values", and the hiring manager with a
  deputy (interviewers beyond a multiple of PANEL join the last requisition's coding pool). Panels are disjoint, as
  engineering teams interview for their own openings; a booking therefore touches one requisition's open requests.
- every requisition has the Greenhouse stages Application Review, Phone Screen, Onsite (mapped to its plan) and
  Offer (the plan's next stage); its plan is a loop of 60 + 60 + 45 + 45 minutes in any order, 10 minutes of
  buffer, a 30-minute grid, 24 hours of notice and a 14-day window. With 40 candidates a requisition (2,000 over
  50) and half of them booking, each panel sits about two loops a working day: caps of 2 interviews a day and 6 a
  week (3 and 8 for the hiring managers) leave room for that, busy calendars permitting.
- candidate i applies to job i mod requisitions, in "Phone Screen"; the benchmark moves them to "Onsite".
- every interviewer has a Google calendar, busy for about BUSY_FRACTION of their working hours (09:00-17:00 in
  their zone, weekdays), daily and weekly caps, and working hours as availability rules.
Candidates and applications are not seeded in the database: they arrive through the webhooks, as in production.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["PANEL", "OFFICES", "STAGES", "ORGANISER", "SERVICE_ACCOUNT", "ACTING_USER", "WEBHOOK_SECRET", "Shape",
           "seed_fakes", "seed_database"]

PANEL = 10
OFFICES = (("New York", "America/New_York"), ("London", "Europe/London"), ("San Francisco", "America/Los_Angeles"),
           ("Berlin", "Europe/Berlin"), ("Bengaluru", "Asia/Kolkata"))
STAGES = ("Application Review", "Phone Screen", "Onsite", "Offer")
MAPPED, NEXT, START = "Onsite", "Offer", "Phone Screen"
DOMAIN = "bench-morning.test"
ORGANISER = f"interviews@{DOMAIN}"
ADMIN = f"it-admin@{DOMAIN}"
SERVICE_ACCOUNT = "loopwise@bench-morning.iam.gserviceaccount.com"
CLIENT = {"client_id": "bench-morning", "client_secret": "bench-morning-secret"}
ACTING_USER = 4_090_001
WEBHOOK_SECRET = "bench-morning-webhook-secret"
JOB0, STAGE0, CANDIDATE0, APPLICATION0 = 700_000, 710_000, 7_000_000, 8_000_000
BUSY_FRACTION = 0.35
BUSY_DAYS = 24  # the plan's 14-day window after a day of notice, with room for the run to cross midnight
# (session name, minutes, the panel positions of its pool)
LOOP = (("Coding", 60, (0, 1, 2)), ("System design", 60, (3, 4, 5)), ("Values", 45, (6, 7)),
        ("Hiring manager", 45, (8, 9)))
HIRING_MANAGERS = (8, 9)


@dataclass(frozen=True)
class Shape:
    """The sizes of the benchmark's world and every id derived from them."""

    interviewers: int
    candidates: int

    @property
    def requisitions(self) -> int:
        return max(1, self.interviewers // PANEL)

    def job_id(self, r: int) -> int:
        return JOB0 + r

    def stage_id(self, r: int, name: str) -> int:
        return STAGE0 + 10 * r + STAGES.index(name)

    def candidate_id(self, i: int) -> int:
        return CANDIDATE0 + i

    def application_id(self, i: int) -> int:
        return APPLICATION0 + i

    def index_of(self, application_id: int) -> int:
        return application_id - APPLICATION0

    def candidate_email(self, i: int) -> str:
        return f"candidate{i}@mail.{DOMAIN}"

    def job_of(self, i: int) -> int:
        return i % self.requisitions

    def interviewer_email(self, n: int) -> str:
        return f"person{n}@{DOMAIN}"

    def requisition_of(self, n: int) -> tuple[int, int]:
        """(requisition, position in its panel) of interviewer n."""
        r = min(n // PANEL, self.requisitions - 1)
        return r, n - r * PANEL

    def office(self, r: int) -> tuple[str, str]:
        return OFFICES[r % len(OFFICES)]

    def zone_of(self, n: int) -> str:
        return self.office(self.requisition_of(n)[0])[1]


# ---------------------------------------------------------------------------------------------------------------
# The fakes (from the benchmark's process, over their control surface)


def seed_fakes(*, google, greenhouse, shape: Shape, webhook_url: str, seed: int,
               ats_rate_limit: int) -> None:
    """Seed the Google fake (people, the organiser calendar, the service account, busy time) and the Greenhouse
    fake (jobs, candidates, applications, the webhook). `google` and `greenhouse` are devstack FakeHandles."""
    from integrations.fakes.google import GoogleFake

    emails = [shape.interviewer_email(n) for n in range(shape.interviewers)]
    zones = {e: shape.zone_of(n) for n, e in enumerate(emails)}
    today = dt.datetime.now(dt.UTC).date()
    google.seed({"users": [{"email": ORGANISER, "name": "Interviews"}, {"email": ADMIN, "name": "IT admin"}]
                 + [{"email": e, "name": e.split("@")[0], "timezone": zones[e]} for e in emails],
                 "service_accounts": [{"client_email": SERVICE_ACCOUNT}]})
    google.seed({"busy": GoogleFake.demo_busy(emails, today, today + dt.timedelta(days=BUSY_DAYS), seed=seed,
                                              fraction=BUSY_FRACTION, timezone_by_email=zones)})
    greenhouse.seed({
        "users": [{"id": ACTING_USER, "first_name": "Morning", "last_name": "Recruiter"}], "clients": [CLIENT],
        "jobs": [{"id": shape.job_id(r), "name": _title(shape, r),
                  "stages": [{"id": shape.stage_id(r, s), "name": s} for s in STAGES]}
                 for r in range(shape.requisitions)],
        "candidates": [{"id": shape.candidate_id(i), "first_name": "Candidate", "last_name": str(i),
                        "email_addresses": [shape.candidate_email(i)]} for i in range(shape.candidates)],
        "applications": [{"id": shape.application_id(i), "candidate_id": shape.candidate_id(i),
                          "job_id": shape.job_id(shape.job_of(i)), "stage": START}
                         for i in range(shape.candidates)],
        "webhook_url": webhook_url, "webhook_secret": WEBHOOK_SECRET,
        # Greenhouse allows 75 calls per 30 s per client; a morning of 2,000 stage changes needs several calls
        # each, so the benchmark raises it (see the command's --ats-rate-limit). Retries are shortened from
        # Greenhouse's 1 min, 15 min, 1 h ... so that a delivery refused during a database restart comes back
        # within the run.
        "settings": {"rate_limit": ats_rate_limit, "webhook_timeout": 30,
                     "webhook_retry_delays": [5, 20, 60, 120]},
    })


def _title(shape: Shape, r: int) -> str:
    return f"Software Engineer {r + 1} ({shape.office(r)[0]})"


# ---------------------------------------------------------------------------------------------------------------
# The database (inside the stack's environment: `Stack.call("scheduling.morning.world.seed_database", ...)`)


def seed_database(*, interviewers: int, candidates: int, google_url: str, greenhouse_url: str) -> dict:
    """Create the organisation's rows (see the module docstring); returns {"webhook_key": ...}."""
    from django.db import transaction

    from integrations.models import AtsConnection, Calendar, CalendarConnection
    from scheduling.demo import demo_service_account_info
    from scheduling.models import (
        AtsStage,
        AvailabilityRule,
        Interviewer,
        InterviewerPool,
        InterviewPlan,
        OrganisationSettings,
        PoolMembership,
        Requisition,
        Role,
        SessionTemplate,
        User,
    )

    shape = Shape(interviewers, candidates)
    with transaction.atomic():
        org = OrganisationSettings.load()
        org.company_name, org.sender_email = "Morning Corp", f"jobs@{DOMAIN}"
        org.reply_to_email = f"recruiting@{DOMAIN}"
        org.save()
        info = demo_service_account_info(google_url + "/token")
        info["client_email"] = SERVICE_ACCOUNT
        calendars = CalendarConnection.objects.create(
            name="Morning Workspace", provider="google", auth_mode="service_account", base_url=google_url,
            token_url=google_url + "/token", account_email=ADMIN, organiser_calendar=ORGANISER,
            credentials={"service_account_info": info})
        ats = AtsConnection.objects.create(
            name="Morning Greenhouse", provider="greenhouse", base_url=greenhouse_url,
            fallback_email=f"ops@{DOMAIN}",
            credentials={**CLIENT, "on_behalf_of": str(ACTING_USER), "webhook_secret": WEBHOOK_SECRET})
        coordinators = [User.objects.create(username=f"coordinator{k}", email=f"coordinator{k}@{DOMAIN}",
                                            is_staff=True) for k in range(len(OFFICES))]
        cals = Calendar.objects.bulk_create([Calendar(connection=calendars, external_id=shape.interviewer_email(n),
                                                      kind=Calendar.Kind.PERSON)
                                             for n in range(shape.interviewers)])
        people = Interviewer.objects.bulk_create([
            Interviewer(name=f"Person {n}", email=shape.interviewer_email(n), title="Engineer",
                        timezone=shape.zone_of(n), calendar=cals[n],
                        max_per_day=3 if shape.requisition_of(n)[1] in HIRING_MANAGERS else 2,
                        max_per_week=8 if shape.requisition_of(n)[1] in HIRING_MANAGERS else 6)
            for n in range(shape.interviewers)])
        AvailabilityRule.objects.bulk_create([AvailabilityRule(interviewer=p, weekday=d, start=dt.time(9),
                                                               end=dt.time(17)) for p in people for d in range(5)])
        panels: dict[int, dict[int, list[Interviewer]]] = {}
        for n, person in enumerate(people):
            r, position = shape.requisition_of(n)
            panels.setdefault(r, {}).setdefault(position if position < PANEL else 0, []).append(person)
        for r in range(shape.requisitions):
            _requisition(shape, r, ats=ats, coordinator=coordinators[r % len(coordinators)], panel=panels[r],
                         models=(Requisition, AtsStage, InterviewPlan, SessionTemplate, Role, InterviewerPool,
                                 PoolMembership))
    return {"webhook_key": ats.webhook_key}


def _requisition(shape: Shape, r: int, *, ats, coordinator, panel: dict, models: tuple) -> None:
    Requisition, AtsStage, InterviewPlan, SessionTemplate, Role, InterviewerPool, PoolMembership = models
    office = shape.office(r)[0]
    req = Requisition.objects.create(title=_title(shape, r), ats_connection=ats, external_id=str(shape.job_id(r)),
                                     coordinator=coordinator, department="Engineering", location=office)
    stages = {name: AtsStage.objects.create(requisition=req, external_id=str(shape.stage_id(r, name)), name=name,
                                            position=k) for k, name in enumerate(STAGES)}
    plan = InterviewPlan.objects.create(name="Onsite loop", requisition=req, stage=stages[MAPPED],
                                        next_stage=stages[NEXT], order=InterviewPlan.Order.ANY, buffer_minutes=10,
                                        step_minutes=30, min_notice_hours=24, window_days=14)
    for position, (name, minutes, seats) in enumerate(LOOP):
        session = SessionTemplate.objects.create(plan=plan, position=position, name=name, duration_minutes=minutes)
        pool = InterviewerPool.objects.create(name=f"{name}, requisition {r + 1}")
        PoolMembership.objects.bulk_create([PoolMembership(pool=pool, interviewer=p)
                                            for seat in seats for p in panel.get(seat, [])])
        Role.objects.create(session=session, kind=Role.Kind.POOL, pool=pool)
