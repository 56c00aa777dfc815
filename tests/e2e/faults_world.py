"""The fault tests' world (tests/e2e/test_faults.py), on a running stack (scheduling/devstack.py).

Faultline, a small company on Greenhouse and Google Workspace (or Microsoft 365): one requisition, Platform
Engineer, whose stage "Onsite" is mapped to an "Onsite loop" (coding with one of three interviewers in one of two
rooms, lunch, system design with one of three others) and whose next stage is "Offer". Six interviewers read through
the organisation's connection (a Google service account with domain-wide delegation, or a Microsoft 365 app with
application permission), free around the clock every day (so that any day the suite runs has times to offer).
Candidates `c0`, `c1`, ... each have an application in "Application Review".

`seed_org` runs inside the stack (`stack.call`); `World` drives the flow from the test process over HTTP: a stage
change in the Greenhouse fake (its signed webhook goes to the stack), the candidate's link from the mail fake, and
the booking on the portal with plain HTTP (no browser), each candidate from an address of its own (the stack trusts
one proxy hop, so the portal's per-address limit sees them apart).
"""

from __future__ import annotations

import datetime as dt
import html
import re
import time
from dataclasses import dataclass, field
from functools import cache

import requests

from scheduling.devstack import Stack, StackError

DOMAIN = "faultline.test"
ORGANISER = f"interviews@{DOMAIN}"
SERVICE_ACCOUNT = "loopwise@faultline.iam.gserviceaccount.com"
TENANT, MS_APP = "faultline", {"client_id": "faultline-loopwise", "client_secret": "ms-app-secret"}
# Where every booking's calendar write goes, as the fake logs it (decoded): the organiser's events (Microsoft: the
# default calendar's, where creates go; look-ups and patches use /v1.0/users/<organiser>/events).
EVENTS_PATH = {"google": f"/calendar/v3/calendars/{ORGANISER}/events",
               "microsoft": f"/v1.0/users/{ORGANISER}/calendar/events"}
CODERS = [f"{n}@{DOMAIN}" for n in ("alice", "dave", "erin")]
DESIGNERS = [f"{n}@{DOMAIN}" for n in ("bob", "carol", "frank")]
ROOMS = [f"room-{n}@{DOMAIN}" for n in ("thames", "severn")]
JOB = 4401
STAGES = {"Application Review": 44010, "Phone Screen": 44011, "Onsite": 44012, "Offer": 44013}
ONSITE, OFFER = "Onsite", "Offer"
# Each booking's live events: coding on the organiser's, the coder's and the room's calendars, system design on the
# organiser's and the designer's.
EVENTS_PER_BOOKING = 5
CLIENT = {"client_id": "faultline-loopwise", "client_secret": "gh-client-secret"}
ACTING_USER, HOOK_SECRET = 4080042, "gh-hook-secret"
APP_BASE, CANDIDATE_BASE = 660000, 770000
# Greenhouse retries a delivery Loopwise did not take after these many seconds (its real ones are 1 m to 8 h).
RETRY_DELAYS = [1, 1, 2, 4, 8, 15, 30]
LINK = re.compile(r"http://127\.0\.0\.1:\d+/s/[A-Za-z0-9_-]+/")
_START = re.compile(r'<button[^>]*name="start"[^>]*value="([^"]+)"|<button[^>]*value="([^"]+)"[^>]*name="start"')
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


# ---------------------------------------------------------------------------------------------------------------
# Inside the stack


def seed_org(*, calendar: dict, greenhouse_url: str) -> dict:
    """Create Faultline (see the module docstring) in the stack's database, with `calendar` as the organisation's
    CalendarConnection fields; returns the webhook key and ids."""
    from django.db import transaction

    from integrations.models import AtsConnection, Calendar, CalendarConnection
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
        Room,
        SessionTemplate,
        User,
    )

    with transaction.atomic():
        org = OrganisationSettings.load()
        org.company_name, org.sender_email, org.reply_to_email = "Faultline", f"jobs@{DOMAIN}", f"recruiting@{DOMAIN}"
        org.support_contact = f"recruiting@{DOMAIN}"
        org.save()
        coordinator = User.objects.create(username="casey", email=f"casey@{DOMAIN}", is_staff=True)
        calendars = CalendarConnection.objects.create(**calendar)
        ats = AtsConnection.objects.create(
            name="Faultline Greenhouse", provider="greenhouse", base_url=greenhouse_url,
            fallback_email=f"ops@{DOMAIN}",
            credentials={**CLIENT, "on_behalf_of": str(ACTING_USER), "webhook_secret": HOOK_SECRET})

        def person(email: str) -> Interviewer:
            p = Interviewer.objects.create(
                name=email.split("@")[0].title(), email=email, title="Engineer", timezone="Europe/London",
                calendar=Calendar.objects.create(connection=calendars, external_id=email), max_per_day=6,
                max_per_week=30)
            # Midnight to midnight, every day: "00:00" as the end means the end of the day.
            AvailabilityRule.objects.bulk_create([AvailabilityRule(interviewer=p, weekday=d, start=dt.time(0),
                                                                   end=dt.time(0)) for d in range(7)])
            return p

        def pool(name: str, emails: list[str]) -> InterviewerPool:
            group = InterviewerPool.objects.create(name=name)
            for email in emails:
                PoolMembership.objects.create(pool=group, interviewer=person(email))
            return group

        rooms = [Room.objects.create(name=email.split("-")[1].split("@")[0].title(), timezone="Europe/London",
                                     calendar=Calendar.objects.create(connection=calendars, external_id=email,
                                                                      kind=Calendar.Kind.ROOM))
                 for email in ROOMS]
        requisition = Requisition.objects.create(title="Platform Engineer", ats_connection=ats,
                                                 external_id=str(JOB), coordinator=coordinator)
        stages = {name: AtsStage.objects.create(requisition=requisition, external_id=str(pk), name=name,
                                                position=n) for n, (name, pk) in enumerate(STAGES.items())}
        plan = InterviewPlan.objects.create(name="Onsite loop", requisition=requisition, buffer_minutes=10,
                                            min_notice_hours=24, window_days=7, step_minutes=30,
                                            stage=stages[ONSITE], next_stage=stages[OFFER])
        coding = SessionTemplate.objects.create(plan=plan, position=0, name="Coding", duration_minutes=60)
        Role.objects.create(session=coding, kind=Role.Kind.POOL, pool=pool("Coders", CODERS))
        Role.objects.create(session=coding, kind=Role.Kind.ROOM).rooms.set(rooms)
        SessionTemplate.objects.create(plan=plan, position=1, name="Lunch", duration_minutes=30, is_break=True)
        design = SessionTemplate.objects.create(plan=plan, position=2, name="System design", duration_minutes=60)
        Role.objects.create(session=design, kind=Role.Kind.POOL, pool=pool("Designers", DESIGNERS))
    return {"webhook_key": ats.webhook_key, "ats": ats.pk, "calendar": calendars.pk, "plan": plan.pk}


# ---------------------------------------------------------------------------------------------------------------
# The test's side


@cache
def service_account_key(token_url: str) -> dict:
    """A service-account key file for the google fake (which checks no signature; a real RSA key all the same)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "faultline", "private_key_id": "faultline-1",
            "private_key": pem, "client_email": SERVICE_ACCOUNT, "client_id": "100000000000000000077",
            "token_uri": token_url}


def app_id(n: int) -> int:
    return APP_BASE + n


def email_of(n: int) -> str:
    return f"c{n}@candidates.example"


@dataclass
class World:
    """Faultline on `stack`, with `candidates` applications waiting in the ATS (see the module docstring)."""

    stack: Stack
    candidates: int
    provider: str = "google"  # the calendar side: google or microsoft
    ids: dict = field(default_factory=dict)
    sessions: dict[int, Candidate] = field(default_factory=dict)  # each candidate's portal session, once booked

    @classmethod
    def on(cls, stack: Stack, *, candidates: int, calendar: str = "google") -> World:
        world = cls(stack, candidates, calendar)
        world.seed()
        return world

    @property
    def greenhouse(self):
        return self.stack.fake("greenhouse")

    @property
    def calendar(self):
        return self.stack.fake(self.provider)

    def seed(self) -> None:
        people = [{"email": ORGANISER, "name": "Faultline Interviews"}] + [
            {"email": e, "name": e.split("@")[0].title(), "timezone": "Europe/London"} for e in CODERS + DESIGNERS]
        rooms = [{"email": e, "name": e.split("@")[0], "timezone": "Europe/London"} for e in ROOMS]
        fake = self.calendar
        if self.provider == "google":
            fake.seed({"users": people, "rooms": rooms, "service_accounts": [{"client_email": SERVICE_ACCOUNT}]})
            connection = {"name": "Faultline Workspace", "provider": "google", "auth_mode": "service_account",
                          "base_url": fake.url, "token_url": fake.url + "/token", "organiser_calendar": ORGANISER,
                          "account_email": f"admin@{DOMAIN}",
                          "credentials": {"service_account_info": service_account_key(fake.url + "/token")}}
        else:
            fake.seed({"tenant": TENANT, "users": people, "rooms": rooms, "apps": [{**MS_APP, "app_only": True}]})
            connection = {"name": "Faultline 365", "provider": "microsoft", "auth_mode": "application",
                          "base_url": fake.url, "token_url": fake.extra["login_url"], "organiser_calendar": ORGANISER,
                          "account_email": f"admin@{DOMAIN}",
                          "credentials": {"tenant": TENANT, **MS_APP, "ca_bundle": fake.extra["ca_path"]}}
        self.ids = self.stack.call("tests.e2e.faults_world.seed_org", calendar=connection,
                                   greenhouse_url=self.greenhouse.url)
        self.greenhouse.seed({
            "users": [{"id": ACTING_USER, "first_name": "Riley", "last_name": "Recruiter"}], "clients": [CLIENT],
            "webhook_secret": HOOK_SECRET, "webhook_url": self.webhook_url,
            "settings": {"rate_limit": 10_000, "webhook_retry_delays": RETRY_DELAYS},
            "jobs": [{"id": JOB, "name": "Platform Engineer",
                      "stages": [{"id": pk, "name": name} for name, pk in STAGES.items()]}],
            "candidates": [{"id": CANDIDATE_BASE + n, "first_name": "Candidate", "last_name": f"C{n}",
                            "email_addresses": [{"value": email_of(n), "type": "personal"}]}
                           for n in range(self.candidates)],
            "applications": [{"id": app_id(n), "candidate_id": CANDIDATE_BASE + n, "job_id": JOB}
                             for n in range(self.candidates)],
        })

    @property
    def webhook_url(self) -> str:
        return f"{self.stack.url}/webhooks/ats/{self.ids['webhook_key']}/"

    # ---- the ATS ----------------------------------------------------------------------------------------------

    def move(self, n: int, stage: str = ONSITE) -> dict:
        """A recruiter moves candidate `n` to `stage` in Greenhouse, which delivers its signed webhook at once; the
        delivery's summary ({n, event_id, status, ...})."""
        return self.greenhouse.stage_change(app_id(n), stage)["delivery"]

    # ---- requests ---------------------------------------------------------------------------------------------

    def requests_of(self, n: int) -> list[tuple[int, str]]:
        """(id, state) of every request of candidate `n`'s application."""
        return self.stack.sql(
            "SELECT r.id, r.state FROM scheduling_schedulingrequest r JOIN scheduling_application a "
            "ON a.id = r.application_id WHERE a.external_id = %s ORDER BY r.id", (str(app_id(n)),))

    def wait_awaiting(self, ns: list[int], *, timeout: float = 90) -> None:
        """Until each of `ns` has a request waiting for them (their link sent)."""
        def ready():
            return all(any(state == "awaiting_candidate" for _, state in self.requests_of(n)) for n in ns)
        self.stack.wait_until(ready, timeout=timeout, message=f"requests awaiting candidates {ns}: "
                                                               f"{[self.requests_of(n) for n in ns]}")

    # ---- the candidate ------------------------------------------------------------------------------------------

    def mail_to(self, n: int) -> list[dict]:
        return [m for m in self.stack.fake("mail").state()["messages"] if email_of(n) in m["to"]]

    def link(self, n: int, *, timeout: float = 60) -> str:
        def found():
            for message in self.mail_to(n):
                if urls := LINK.findall(message.get("text") or ""):
                    return urls[0]
            return None
        return self.stack.wait_until(found, timeout=timeout, message=f"candidate {n}'s link email")

    def book(self, n: int, *, pick: int = 0, tries: int = 8) -> str:
        """Candidate `n` opens their link, picks the `pick`-th time on offer (wrapping round) and confirms; when that
        time has just been taken, the next one on the fresh page. Answers a moment of
        trouble (5xx, a refused connection: the database restarting) by trying again, as a person would. Returns
        the start booked."""
        candidate = self.sessions[n] = Candidate(self.link(n), address=f"10.9.{n // 250}.{n % 250 + 1}")
        return candidate.book(pick=pick, tries=tries)


class Candidate:
    """One candidate's browser-less session on the portal."""

    def __init__(self, link: str, *, address: str):
        self.link = link
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["X-Forwarded-For"] = address  # the stack trusts one proxy hop (PORTAL_TRUSTED_PROXIES)
        self.base = link.split("/s/", 1)[0]

    def _get(self, url: str, **kw) -> requests.Response:
        return self.http.get(url, timeout=60, **kw)

    def status(self, path: str) -> int:
        """The status of one GET of `path` on the portal, in this candidate's session (redirects followed)."""
        return self._get(self.base + path).status_code

    def book(self, *, pick: int, tries: int) -> str:
        last, opened = "", False
        for attempt in range(tries):
            try:
                page = self._get(f"{self.base}/schedule/" if opened else self.link)
                if page.status_code != 200:
                    raise _Trouble(f"the picker answered {page.status_code}")
                opened = True
                if page.url.endswith("/schedule/booked"):
                    return last or "(booked before)"  # an earlier POST went through after all
                starts = [html.unescape(a or b) for a, b in _START.findall(page.text)]
                if not starts:
                    raise _Trouble("no times on offer")
                start = starts[(pick + attempt) % len(starts)]
                confirm = self._get(f"{self.base}/schedule/confirm", params={"start": start})
                token = _CSRF.search(confirm.text)
                if confirm.status_code != 200 or token is None:
                    raise _Trouble(f"the confirmation page answered {confirm.status_code}")
                last = start
                answer = self.http.post(f"{self.base}/schedule/confirm", timeout=120,
                                        data={"csrfmiddlewaretoken": token.group(1), "start": start})
                if answer.status_code == 200 and answer.url.endswith("/schedule/booked"):
                    return start
                if answer.status_code >= 500:
                    raise _Trouble(f"the booking answered {answer.status_code}")
                # 200 on the picker: that time has just been taken (or the times changed); choose again.
            except (_Trouble, requests.ConnectionError, requests.Timeout):
                time.sleep(0.5)
        raise StackError(f"the candidate could not book after {tries} tries (last start {last or 'none'})")


class _Trouble(Exception):
    """A page the candidate would reload."""
