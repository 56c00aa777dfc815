"""Issue 11's acceptance scenario: one recruiting team's day, on a running stack (scheduling/devstack.py).

The organisation, Acme: Riley the recruiter (a superuser) and Casey the coordinator of two requisitions, each with an
"Onsite loop" plan. Backend Engineer: coding (Alice or Dave, in the room Thames), lunch, system design with Bob, who
connected his own calendar (a per-user grant). Site Reliability Engineer: coding (Alice or Dave), system design with
Carol. Alice, Carol, Dave and the room are read through the organisation's calendar connection (a Google service
account with domain-wide delegation, or a Microsoft 365 app with application permission). One reminder, 24 hours
after the link was sent. Three candidates in the ATS: Zoë and Ada (backend), Olu (SRE).

The six steps (the tests drive them; the helpers here are shared by the browser run and the API-level runs):
1. connect the ATS and the calendars, test both connections, map "Onsite" of each requisition to its plan;
2. Zoë is moved to "Onsite" in the ATS; the signed webhook arrives; a request with options appears;
3. her email arrives in the mail fake; she picks a time in her own zone and confirms;
4. the events, with a video link, are on every interviewer's and the room's calendar; the ATS holds one note and
   one stage move (its write-back matrix row, no more); the request is booked; the dashboard is quiet;
5. Bob's grant is revoked; after one refresh cycle his connection is red on the dashboard and in the admin, named,
   and Ada's "why no slots?" names him;
6. Olu does not pick; the reminder goes out on time; near the link's expiry the coordinator is told, and extends it
   from the dashboard.

`seed_org` runs inside the stack (`stack.call`); everything else runs in the test process and talks HTTP.
"""

from __future__ import annotations

import collections
import datetime as dt
import html
import json
import re
import zoneinfo
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

import requests

from scheduling.devstack import FakeHandle, Stack, StackTimeout

DOMAIN = "acme.test"
ORGANISER = f"interviews@{DOMAIN}"
ALICE, BOB, CAROL, DAVE = (f"{n}@{DOMAIN}" for n in ("alice", "bob", "carol", "dave"))
ROOM = f"room-thames@{DOMAIN}"
PEOPLE = {ALICE: ("Alice Archer", "Europe/London"), BOB: ("Bob Brown", "America/New_York"),
          CAROL: ("Carol Chen", "America/New_York"), DAVE: ("Dave Dunn", "Europe/London")}
NAMES = {email: name for email, (name, _) in PEOPLE.items()} | {ROOM: "Thames"}
SERVICE_ACCOUNT = "loopwise@acme-project.iam.gserviceaccount.com"
PASSWORD = "acceptance-passphrase-2026"
RECRUITER, COORDINATOR = "riley", "casey"
COORDINATOR_EMAIL = f"casey@{DOMAIN}"
OAUTH_CLIENT = {"client_id": "loopwise-demo-client", "client_secret": "loopwise-demo-client-secret"}  # the stack's
BOB_REFRESH = "rt-bob-acceptance"
TENANT = "acme"
MS_APP = {"client_id": "acme-loopwise", "client_secret": "acme-app-secret"}
# Candidates: key -> (first name, last name, email, requisition key).
CANDIDATES = {"zoe": ("Zoë", "Lindqvist", "zoe@example.com", "backend"),
              "ada": ("Ada", "Okafor", "ada@example.com", "backend"),
              "olu": ("Olu", "Bello", "olu@example.com", "sre")}
JOBS = {"backend": "Backend Engineer", "sre": "Site Reliability Engineer"}
ONSITE, OFFER = "Onsite", "Offer"
STAGES = ("Application Review", "Phone Screen", ONSITE, OFFER)
REMINDER_HOURS = 24
LINK = re.compile(r"http://127\.0\.0\.1:\d+/s/[A-Za-z0-9_-]+/")


# ---------------------------------------------------------------------------------------------------------------
# Inside the stack


def seed_org(*, calendar: dict, bob: dict, ats: dict, connected: bool) -> dict:
    """Create Acme (see the module docstring) in the stack's database. `calendar` and `bob` are the organisation's
    and Bob's CalendarConnection fields; `ats` the AtsConnection's plus `jobs` ({key: external id}). Connected: both
    organisation connections work, the jobs are imported from the ATS and "Onsite" is mapped on both plans. Not
    connected (the browser run's step 1 does it): the two connections are switched off without credentials or
    URLs, and no stage exists yet. Returns the ids the tests need and a read-only API key."""
    from django.db import transaction

    from integrations.ats.sync import jobs_sync
    from integrations.models import AtsConnection, Calendar, CalendarConnection
    from scheduling.api.auth import api_key_create
    from scheduling.models import (
        AvailabilityRule,
        Interviewer,
        InterviewerPool,
        InterviewPlan,
        OrganisationSettings,
        PoolMembership,
        ReminderSequence,
        ReminderStep,
        Requisition,
        Role,
        Room,
        SessionTemplate,
        User,
    )

    with transaction.atomic():
        org = OrganisationSettings.load()
        org.company_name, org.sender_email, org.reply_to_email = "Acme", f"jobs@{DOMAIN}", f"recruiting@{DOMAIN}"
        org.support_contact = f"recruiting@{DOMAIN}"
        org.save()
        staff = {}
        for username, first, last, superuser in ((RECRUITER, "Riley", "Recruiter", True),
                                                 (COORDINATOR, "Casey", "Coordinator", False)):
            user = User(username=username, email=f"{username}@{DOMAIN}", first_name=first, last_name=last,
                        timezone="Europe/London", is_staff=True, is_superuser=superuser)
            user.set_password(PASSWORD)
            user.save()
            staff[username] = user
        if not connected:
            calendar = {**calendar, "active": False, "credentials": {}, "base_url": "", "token_url": ""}
            ats = {**ats, "active": False, "credentials": {}, "base_url": ""}
        jobs, onsite, after = ats.pop("jobs"), ats.pop("onsite"), ats.pop("next")
        org_calendars = CalendarConnection.objects.create(**calendar)
        own = CalendarConnection.objects.create(**bob)
        connection = AtsConnection.objects.create(**ats)

        def person(email: str, conn: CalendarConnection) -> Interviewer:
            name, zone = PEOPLE[email]
            cal = Calendar.objects.create(connection=conn, external_id=email)
            p = Interviewer.objects.create(name=name, email=email, title="Engineer", timezone=zone, calendar=cal,
                                           max_per_day=4, max_per_week=10)
            AvailabilityRule.objects.bulk_create([AvailabilityRule(interviewer=p, weekday=d, start=dt.time(9),
                                                                   end=dt.time(18)) for d in range(5)])
            return p

        alice, carol, dave = (person(e, org_calendars) for e in (ALICE, CAROL, DAVE))
        bob_ = person(BOB, own)
        room = Room.objects.create(name="Thames", timezone="Europe/London", calendar=Calendar.objects.create(
            connection=org_calendars, external_id=ROOM, kind=Calendar.Kind.ROOM))
        pool = InterviewerPool.objects.create(name="Backend")
        for p in (alice, dave):
            PoolMembership.objects.create(pool=pool, interviewer=p)
        requisitions, plans = {}, {}
        for key, title in JOBS.items():
            requisitions[key] = Requisition.objects.create(title=title, ats_connection=connection,
                                                           external_id=jobs[key], coordinator=staff[COORDINATOR],
                                                           recruiter=staff[RECRUITER])
            plan = InterviewPlan.objects.create(name="Onsite loop", requisition=requisitions[key], buffer_minutes=10,
                                                min_notice_hours=24, window_days=7, step_minutes=30)
            coding = SessionTemplate.objects.create(plan=plan, position=0, name="Coding", duration_minutes=60)
            Role.objects.create(session=coding, kind=Role.Kind.POOL, pool=pool)
            if key == "backend":
                Role.objects.create(session=coding, kind=Role.Kind.ROOM).rooms.set([room])
                SessionTemplate.objects.create(plan=plan, position=1, name="Lunch", duration_minutes=30, is_break=True)
            design = SessionTemplate.objects.create(plan=plan, position=2, name="System design", duration_minutes=60)
            Role.objects.create(session=design, kind=Role.Kind.INTERVIEWER, interviewer=bob_ if key == "backend"
                                else carol)
            plans[key] = plan
        sequence = ReminderSequence.objects.create(name="Standard reminders")
        ReminderStep.objects.create(sequence=sequence, position=0, delay_hours=REMINDER_HOURS,
                                    action=ReminderStep.Action.REMIND_CANDIDATE)
        _, api_key = api_key_create(name="acceptance", scopes=["read"])
    if connected:
        jobs_sync(connection=connection)
        for plan in plans.values():
            plan.stage = plan.requisition.stages.get(name=onsite)
            plan.next_stage = plan.requisition.stages.get(name=after)
            plan.save(update_fields=["stage", "next_stage"])
    return {"ats": connection.pk, "webhook_key": connection.webhook_key, "calendar": org_calendars.pk,
            "bob_connection": own.pk, "plans": {k: p.pk for k, p in plans.items()},
            "requisitions": {k: r.pk for k, r in requisitions.items()}, "api_key": api_key,
            "people": {p.email: p.pk for p in (alice, bob_, carol, dave)}}


# ---------------------------------------------------------------------------------------------------------------
# Calendar providers: seed the fake, the connections, Bob's grant, the events


@cache
def service_account_key(token_url: str) -> dict:
    """A service-account key file for the google fake (which checks no signature; a fresh RSA key all the same)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "acme-project", "private_key_id": "acme-key-1",
            "private_key": pem, "client_email": SERVICE_ACCOUNT, "client_id": "100000000000000000042",
            "token_uri": token_url}


class GoogleSide:
    provider, video = "google", "Meet"

    def __init__(self, fake: FakeHandle):
        self.fake = fake

    def seed(self) -> None:
        self.fake.seed({
            "users": [{"email": ORGANISER, "name": "Acme Interviews"}]
            + [{"email": e, "name": n, "timezone": z} for e, (n, z) in PEOPLE.items()],
            "rooms": [{"email": ROOM, "name": "Thames", "timezone": "Europe/London"}],
            "service_accounts": [{"client_email": SERVICE_ACCOUNT}],
            "oauth_clients": [OAUTH_CLIENT],
            "refresh_tokens": [{"token": BOB_REFRESH, "client_id": OAUTH_CLIENT["client_id"], "user": BOB}],
        })

    def org_connection(self) -> dict:
        return {"name": "Acme Workspace", "provider": "google", "auth_mode": "service_account",
                "base_url": self.fake.url, "token_url": self.fake.url + "/token", "organiser_calendar": ORGANISER,
                "account_email": f"admin@{DOMAIN}",
                "credentials": {"service_account_info": service_account_key(self.fake.url + "/token")}}

    def bob_connection(self) -> dict:
        return {"name": f"{BOB} (google)", "provider": "google", "auth_mode": "user_oauth", "base_url": self.fake.url,
                "token_url": self.fake.url + "/token", "organiser_calendar": BOB, "account_email": BOB,
                "credentials": {**OAUTH_CLIENT, "refresh_token": BOB_REFRESH}}

    def revoke_bob(self) -> None:
        self.fake.add_fault(kind="revoke", target=BOB)

    def events(self, state: dict, calendar: str) -> list[dict]:
        """Live events on `calendar` in the fake's `state` (the organiser's and the attendees' copies), as summary,
        start and video link."""
        found = state["calendars"].get(calendar, {}).get("events", [])
        return [{"summary": e.get("summary"), "start": e["start"].get("dateTime"), "video": _meet(e)}
                for e in found if e.get("status") != "cancelled"]


def _meet(event: dict) -> str:
    points = (event.get("conferenceData") or {}).get("entryPoints") or []
    return event.get("hangoutLink") or next((p["uri"] for p in points if p.get("entryPointType") == "video"), "")


class MicrosoftSide:
    provider, video = "microsoft", "Teams"

    def __init__(self, fake: FakeHandle):
        self.fake = fake

    def seed(self) -> None:
        self.fake.seed({
            "tenant": TENANT,
            "users": [{"email": ORGANISER, "name": "Acme Interviews"}]
            + [{"email": e, "name": n, "timezone": z} for e, (n, z) in PEOPLE.items()],
            "rooms": [{"email": ROOM, "name": "Thames", "timezone": "Europe/London"}],
            "apps": [{**MS_APP, "app_only": True}, OAUTH_CLIENT],
            "refresh_tokens": [{"token": BOB_REFRESH, "client_id": OAUTH_CLIENT["client_id"], "user": BOB}],
        })

    def _base(self) -> dict:
        return {"provider": "microsoft", "base_url": self.fake.url, "token_url": self.fake.extra["login_url"]}

    def org_connection(self) -> dict:
        return {**self._base(), "name": "Acme 365", "auth_mode": "application", "organiser_calendar": ORGANISER,
                "account_email": f"admin@{DOMAIN}",
                "credentials": {"tenant": TENANT, **MS_APP, "ca_bundle": self.fake.extra["ca_path"]}}

    def bob_connection(self) -> dict:
        return {**self._base(), "name": f"{BOB} (microsoft)", "auth_mode": "user_oauth", "organiser_calendar": BOB,
                "account_email": BOB, "credentials": {"tenant": TENANT, **OAUTH_CLIENT, "refresh_token": BOB_REFRESH,
                                                      "ca_bundle": self.fake.extra["ca_path"]}}

    def revoke_bob(self) -> None:
        self.fake.add_fault(kind="revoke", target=BOB)

    def events(self, state: dict, calendar: str) -> list[dict]:
        found = state["mailboxes"].get(calendar, {}).get("events", [])
        return [{"summary": e.get("subject"), "start": (e.get("start") or {}).get("dateTime"), "video": _teams(e)}
                for e in found if not e.get("isCancelled")]


def _teams(event: dict) -> str:
    """The Teams link of an event: its own online meeting's, or the one a later session of the loop carries (Graph
    cannot attach a meeting to a second event: the link is in the body, and the location when there is no room)."""
    own = (event.get("onlineMeeting") or {}).get("joinUrl") or (event.get("location") or {}).get("locationUri")
    found = re.search(r"https://teams\.microsoft\.com/[^\s\"'<]+", (event.get("body") or {}).get("content") or "")
    return own or (html.unescape(found.group(0)) if found else "")


# ---------------------------------------------------------------------------------------------------------------
# ATSs: seed the fake, the connection, the webhook, a stage change, the write-back as the fake holds it


class AtsSide:
    """One ATS's fake, seen the way the scenario needs it. `apps` and `jobs` map the scenario's keys to the fake's ids;
    `path_values` fill the write-back matrix's path templates."""

    provider: ClassVar[str]
    name: ClassVar[str]
    broken: ClassVar[str | None] = None  # a component the run breaks (iCIMS: datastream)

    def __init__(self, fake: FakeHandle):
        self.fake = fake
        self.apps: dict[str, str] = {}
        self.jobs: dict[str, str] = {}

    def connection(self) -> dict:
        return {"name": self.name, "provider": self.provider, "base_url": self.fake.url,
                "fallback_email": f"recruiting-ops@{DOMAIN}", "credentials": self.credentials(), "jobs": self.jobs,
                "onsite": ONSITE, "next": OFFER}

    def path_values(self, app: str) -> dict[str, str]:
        return {"application": app}

    def delivered(self, answer: dict) -> list[int | None]:
        """The statuses Loopwise answered to the webhook(s) a stage change sent."""
        return [answer["delivery"]["status"]] if answer.get("delivery") else []

    def move(self, key: str, stage: str = ONSITE) -> list[int | None]:
        return self.delivered(self.fake.stage_change(self._app_arg(self.apps[key]), stage))

    def _app_arg(self, app: str) -> Any:
        return app

    # each provider: seed(), credentials(), connect_webhooks(url), notes(state, app), stage_name(state, app)


class GreenhouseSide(AtsSide):
    provider, name = "greenhouse", "Acme Greenhouse"
    CLIENT = {"client_id": "acme-loopwise", "client_secret": "gh-client-secret"}
    USER, SECRET = 4080001, "gh-hook-secret"

    def seed(self) -> None:
        self.jobs = {"backend": "4201", "sre": "4301"}
        self.apps = {"zoe": "5501", "ada": "5502", "olu": "5503"}
        self.fake.seed({
            "users": [{"id": self.USER, "first_name": "Riley", "last_name": "Recruiter"}], "clients": [self.CLIENT],
            "webhook_secret": self.SECRET, "settings": {"rate_limit": 10_000},
            "jobs": [{"id": int(self.jobs[k]), "name": JOBS[k],
                      "stages": [{"id": int(self.jobs[k]) * 10 + i, "name": s} for i, s in enumerate(STAGES)]}
                     for k in JOBS],
            "candidates": [{"id": 7700 + i, "first_name": f, "last_name": la,
                            "email_addresses": [{"value": e, "type": "personal"}]}
                           for i, (f, la, e, _) in enumerate(CANDIDATES.values())],
            "applications": [{"id": int(self.apps[k]), "candidate_id": 7700 + i, "job_id": int(self.jobs[job])}
                             for i, (k, (_, _, _, job)) in enumerate(CANDIDATES.items())],
        })

    def credentials(self) -> dict:
        return {**self.CLIENT, "on_behalf_of": str(self.USER), "webhook_secret": self.SECRET}

    def connect_webhooks(self, url: str) -> None:
        self.fake.call("POST", "/_fake/webhooks", {"url": url, "secret": self.SECRET, "enabled": True})

    def _app_arg(self, app: str) -> Any:
        return int(app)

    def notes(self, state: dict, app: str) -> list[str]:
        return [n["body"] for n in state["notes"] if str(n["application_id"]) == app]

    def stage_name(self, state: dict, app: str) -> str:
        application = next(a for a in state["applications"] if str(a["id"]) == app)
        stages = {s["id"]: s["name"] for s in state["stages"]} if isinstance(state["stages"], list) else {}
        current = application.get("current_stage") or {}
        return current.get("name") or stages.get(application.get("stage_id"), "")


class LeverSide(AtsSide):
    provider, name = "lever", "Acme Lever"
    USER, KEY, TOKEN = "5a0e0000-0000-4000-8000-000000000001", "lever-key", "lever-sig-token"

    def seed(self) -> None:
        self.jobs = {"backend": "5a0e0000-0000-4000-8000-000000004201", "sre": "5a0e0000-0000-4000-8000-000000004301"}
        self.apps = {k: f"5a0e0000-0000-4000-8000-00000000550{i + 1}" for i, k in enumerate(CANDIDATES)}
        self.fake.seed({
            "users": [{"id": self.USER, "name": "Riley Recruiter"}], "api_keys": [{"key": self.KEY}],
            "stages": [{"text": s} for s in STAGES], "signature_tokens": {"candidateStageChange": self.TOKEN},
            "settings": {"rate_per_second": 1000, "rate_burst": 1000},
            "postings": [{"id": self.jobs[k], "text": JOBS[k]} for k in JOBS],
            "opportunities": [{"id": self.apps[k], "name": f"{f} {la}", "emails": [e], "posting": self.jobs[job],
                               "contact": self.apps[k].replace("-8000-", "-9000-")}
                              for k, (f, la, e, job) in CANDIDATES.items()],
        })

    def credentials(self) -> dict:
        return {"api_key": self.KEY, "perform_as": self.USER,
                "signature_tokens": {"candidateStageChange": self.TOKEN}}

    def connect_webhooks(self, url: str) -> None:
        self.fake.call("POST", "/_fake/webhooks", {"url": url, "enabled": True})

    def notes(self, state: dict, app: str) -> list[str]:
        return [n["fields"][0]["value"] for n in state["notes"] if n["opportunity"] == app]

    def stage_name(self, state: dict, app: str) -> str:
        stage = next(o for o in state["opportunities"] if o["id"] == app)["stage"]
        return next(s["text"] for s in state["stages"] if s["id"] == stage)


class IcimsSide(AtsSide):
    provider, name, broken = "icims", "Acme iCIMS", "datastream"
    CUSTOMER, FIELD = "1234", "field50001"
    STATUSES = (("D10100", STAGES[0]), ("C2005", STAGES[1]), ("C2010", ONSITE), ("C2020", OFFER))
    PUSH = {"push_auth": "hmac", "push_hmac_user": "icims-events", "push_hmac_secret": "push-secret"}

    def seed(self) -> None:
        self.jobs = {"backend": "4201", "sre": "4301"}
        self.apps = {"zoe": "5501", "ada": "5502", "olu": "5503"}
        self.fake.seed({
            "customer_id": self.CUSTOMER, "api_users": [{"username": "loopwise", "password": "api-password"}],
            "push": {"auth": "hmac", "user": "icims-events", "secret": "push-secret"},
            "statuses": [{"id": i, "value": v} for i, v in self.STATUSES], "workflow_fields": [self.FIELD],
            "jobs": [{"id": int(self.jobs[k]), "jobtitle": JOBS[k]} for k in JOBS],
            "people": [{"id": 7700 + i, "firstname": f, "lastname": la, "email": e}
                       for i, (f, la, e, _) in enumerate(CANDIDATES.values())],
            "workflows": [{"id": int(self.apps[k]), "job": int(self.jobs[job]), "person": 7700 + i}
                          for i, (k, (_, _, _, job)) in enumerate(CANDIDATES.items())],
            "datastream": {"licensed": True, "subscriptions": ["loopwise"]},
        })

    def credentials(self) -> dict:
        return {"customer_id": self.CUSTOMER, "username": "loopwise", "password": "api-password",
                "note_field": self.FIELD, "status_ids": [i for i, _ in self.STATUSES], "datastream": True,
                **self.PUSH}

    def connect_webhooks(self, url: str) -> None:
        self.fake.seed({"webhook_url": url})

    def path_values(self, app: str) -> dict[str, str]:
        return {"application": app, "customer": self.CUSTOMER}

    def delivered(self, answer: dict) -> list[int | None]:
        return [d["status"] for d in answer.get("deliveries") or []]

    def _app_arg(self, app: str) -> Any:
        return int(app)

    def notes(self, state: dict, app: str) -> list[str]:
        workflow = next(w for w in state["workflows"] if str(w["id"]) == app)
        return re.findall(r".*?\[loopwise:[^\]]*\]", workflow["fields"].get(self.FIELD, ""), flags=re.DOTALL)

    def stage_name(self, state: dict, app: str) -> str:
        status = next(w for w in state["workflows"] if str(w["id"]) == app)["status"]
        status = status.get("id") if isinstance(status, dict) else status
        return dict(self.STATUSES)[status]


class JobviteSide(AtsSide):
    provider, name = "jobvite", "Acme Jobvite"
    KEY, SECRET, SIGNING = "jobvite-key", "jobvite-secret", "jv-sign-key"

    def seed(self) -> None:
        self.jobs = {"backend": "jvBackend", "sre": "jvSre"}
        self.apps = {k: f"jvApp{k.title()}" for k in CANDIDATES}
        self.fake.seed({
            "api_keys": [{"key": self.KEY, "secret": self.SECRET}], "workflow": list(STAGES),
            "jobs": [{"eId": self.jobs[k], "title": JOBS[k]} for k in JOBS],
            "candidates": [{"eId": f"jvCand{k.title()}", "firstName": f, "lastName": la, "email": e,
                            "application": {"eId": self.apps[k], "job": self.jobs[job]}}
                           for k, (f, la, e, job) in CANDIDATES.items()],
        })

    def credentials(self) -> dict:
        return {"api_key": self.KEY, "api_secret": self.SECRET, "webhook_signing_key": self.SIGNING,
                "workflow_states": list(STAGES)}

    def connect_webhooks(self, url: str) -> None:
        self.fake.seed({"webhook": {"url": url, "signing_key": self.SIGNING, "enabled": True}})

    def notes(self, state: dict, app: str) -> list[str]:
        application = next(a for a in state["applications"] if a["eId"] == app)
        return re.findall(r".*?\[loopwise:[^\]]*\]", application["comments"] or "", flags=re.DOTALL)

    def stage_name(self, state: dict, app: str) -> str:
        return next(a for a in state["applications"] if a["eId"] == app)["workflowState"]


# ---------------------------------------------------------------------------------------------------------------
# HTTP: staff in the admin and on the dashboard, candidates on the portal, integrators on the API


class Staff:
    """A staff member's browser-less session: sign in, run admin actions, read pages and their messages."""

    def __init__(self, base: str, username: str):
        self.base, self.http = base, requests.Session()
        self.http.trust_env = False
        page = self.http.get(f"{base}/admin/login/", timeout=30)
        answer = self.http.post(f"{base}/admin/login/", data={
            "csrfmiddlewaretoken": csrf_token(page.text), "username": username, "password": PASSWORD,
            "next": "/admin/"}, headers={"Referer": f"{base}/admin/login/"}, timeout=30)
        assert answer.url.rstrip("/").endswith("/admin"), f"{username} could not sign in: {answer.status_code}"

    def get(self, path: str) -> str:
        answer = self.http.get(self.base + path, timeout=60)
        assert answer.status_code == 200, f"GET {path}: {answer.status_code}"
        return answer.text

    def post_form(self, path: str, data: dict, *, form_page: str | None = None) -> str:
        """POST `data` with the CSRF token of `form_page` (default `path`), following the redirect; the page."""
        token = csrf_token(self.get(form_page or path))
        answer = self.http.post(self.base + path, data={"csrfmiddlewaretoken": token, **data},
                                headers={"Referer": self.base + (form_page or path)}, timeout=120)
        assert answer.status_code == 200, f"POST {path}: {answer.status_code}"
        return answer.text

    def action(self, changelist: str, action: str, pk: int) -> list[tuple[str, str]]:
        """Run an admin action on one row; the messages it left, as (level, text)."""
        return messages(self.post_form(changelist, {"action": action, "_selected_action": [pk], "index": 0}))


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def messages(page: str) -> list[tuple[str, str]]:
    return [(level, html.unescape(re.sub(r"<[^>]+>", "", text)).strip()) for level, text in
            re.findall(r'<li class="(success|info|warning|error)">(.*?)</li>', page, flags=re.DOTALL)]


def text_of(page: str) -> str:
    """The page's visible text, tags dropped and whitespace folded."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def section(page: str, anchor: str) -> str:
    """The dashboard section `<section id=anchor>` of `page`."""
    match = re.search(rf'<section[^>]*id="{anchor}".*?</section>', page, flags=re.DOTALL)
    assert match, f"no section #{anchor} on the dashboard"
    return match.group(0)


def loud_tiles(page: str) -> list[str]:
    """The dashboard's summary tiles that are not green: (label: count)."""
    tiles = re.findall(r'<li class="lw-tile lw-tile-(\w+)">.*?<span class="lw-tile-n">(.*?)</span>\s*'
                       r'<span class="lw-tile-label">(.*?)</span>', page, flags=re.DOTALL)
    assert tiles, "no summary tiles on the dashboard"
    return [f"{html.unescape(label)}: {re.sub(r'<[^>]+>', '', n).strip()}" for colour, n, label in tiles
            if colour != "ok"]


class Candidate:
    """A candidate on the portal without a browser: open the emailed link, choose a zone, pick, confirm."""

    def __init__(self, link: str):
        self.http = requests.Session()
        self.http.trust_env = False
        answer = self.http.get(link, timeout=30)
        assert answer.status_code == 200 and answer.url.endswith("/schedule/"), (answer.status_code, answer.url)
        self.base, self.page = answer.url.rsplit("/schedule/", 1)[0], answer.text

    def set_zone(self, zone: str) -> None:
        answer = self.http.post(f"{self.base}/schedule/timezone", timeout=30, data={
            "csrfmiddlewaretoken": csrf_token(self.page), "zone": zone, "next": "/schedule/"})
        assert answer.status_code == 200 and answer.url.endswith("/schedule/"), answer.status_code
        self.page = answer.text

    def times(self) -> list[tuple[str, str]]:
        """(start, label) of every start time on offer."""
        picker = re.search(r'<form class="picker".*?</form>', self.page, flags=re.DOTALL)
        assert picker, "no times on offer"
        return [(html.unescape(v), html.unescape(label).strip()) for v, label in
                re.findall(r'<button[^>]*value="([^"]+)"[^>]*>([^<]*)</button>', picker.group(0))]

    def book(self, start: str) -> str:
        page = self.http.get(f"{self.base}/schedule/confirm", params={"start": start}, timeout=30)
        assert page.status_code == 200, page.status_code
        answer = self.http.post(f"{self.base}/schedule/confirm", timeout=120, data={
            "csrfmiddlewaretoken": csrf_token(page.text), "start": start})
        assert answer.status_code == 200 and answer.url.endswith("/schedule/booked"), (answer.status_code,
                                                                                        answer.url)
        return answer.text


def local_label(start: str, zone: str) -> str:
    return f"{dt.datetime.fromisoformat(start.replace('Z', '+00:00')).astimezone(zoneinfo.ZoneInfo(zone)):%H:%M}"


# ---------------------------------------------------------------------------------------------------------------
# The scenario on a stack


@dataclass
class Scenario:
    """Acme on `stack`, with one calendar side and one ATS side; the machine-side steps and the checks."""

    stack: Stack
    calendar: GoogleSide | MicrosoftSide
    ats: AtsSide
    ids: dict = field(default_factory=dict)

    @classmethod
    def on(cls, stack: Stack, *, calendar: str, ats: str) -> Scenario:
        sides = {"google": GoogleSide, "microsoft": MicrosoftSide, "greenhouse": GreenhouseSide,
                 "lever": LeverSide, "icims": IcimsSide, "jobvite": JobviteSide}
        return cls(stack, sides[calendar](stack.fake(calendar)), sides[ats](stack.fake(ats)))

    # ---- set-up -------------------------------------------------------------------------------------------------

    def seed(self, *, connected: bool) -> dict:
        """Seed both fakes and Acme (`seed_org`). Connected, the ATS's webhooks go to the connection's URL at once;
        not connected, the browser run's recruiter reads that URL in the admin and gives it to the ATS."""
        self.calendar.seed()
        self.ats.seed()
        self.ids = self.stack.call("tests.e2e.scenario.seed_org", calendar=self.calendar.org_connection(),
                                   bob=self.calendar.bob_connection(), ats=self.ats.connection(), connected=connected)
        if connected:
            self.ats.connect_webhooks(self.webhook_url)
        return self.ids

    @property
    def webhook_url(self) -> str:
        return f"{self.stack.url}/webhooks/ats/{self.ids['webhook_key']}/"

    def api(self, path: str) -> Any:
        answer = requests.get(f"{self.stack.url}/api/v1/{path}", timeout=30,
                              headers={"Authorization": f"Bearer {self.ids['api_key']}"})
        assert answer.status_code == 200, f"GET /api/v1/{path}: {answer.status_code} {answer.text[:300]}"
        return answer.json()

    # ---- requests ---------------------------------------------------------------------------------------------

    def request_row(self, key: str) -> tuple[int, str, dt.datetime | None] | None:
        """(id, state, link_sent_at) of the request of candidate `key`'s application, or None."""
        rows = self.stack.sql(
            "SELECT r.id, r.state, r.link_sent_at FROM scheduling_schedulingrequest r JOIN scheduling_application a "
            "ON a.id = r.application_id WHERE a.external_id = %s ORDER BY r.id", (self.ats.apps[key],))
        return rows[-1] if rows else None

    def wait_for_request(self, key: str, *states: str, timeout: float = 60) -> dict:
        """The request of `key` once it is in one of `states`, as the API shows it."""
        def found():
            row = self.request_row(key)
            return row if row and row[1] in states else None
        row = self.stack.wait_until(found, timeout=timeout, message=f"{key}'s request in {states} "
                                                                      f"(now {self.request_row(key)})")
        return self.api(f"scheduling-requests/{row[0]}/")

    def active_link(self, request_id: int) -> tuple[int, dt.datetime]:
        [(pk, expires)] = self.stack.sql("SELECT id, expires_at FROM scheduling_schedulinglink WHERE request_id = %s "
                                         "AND revoked_at IS NULL", (request_id,))
        return pk, expires

    # ---- mail ---------------------------------------------------------------------------------------------------

    def mail_to(self, address: str) -> list[dict]:
        return [m for m in self.stack.fake("mail").state()["messages"] if address in m["to"]]

    def wait_for_mail(self, address: str, count: int = 1, *, subject: str = "", timeout: float = 60) -> list[dict]:
        """The emails to `address` (whose subject contains `subject`) once there are at least `count`."""
        def found():
            mails = [m for m in self.mail_to(address) if subject in (m["subject"] or "")]
            return mails if len(mails) >= count else None
        return self.stack.wait_until(found, timeout=timeout, message=f"{count} email(s) to {address} ({subject!r})")

    def link_in(self, message: dict) -> str:
        urls = LINK.findall(message["text"] or "")
        assert urls and all(u.startswith(self.stack.url) for u in urls), message["text"]
        return urls[0]

    # ---- step 4: what the booking wrote --------------------------------------------------------------------

    def interview(self, request_id: int) -> dict:
        [interview] = self.api(f"scheduled-interviews/?request_id={request_id}&state=active")["results"]
        return interview

    def booked_attendees(self, interview: dict) -> set[str]:
        by_name = {n: e for e, n in NAMES.items()}
        people = {by_name[p["interviewer"]["name"]] for s in interview["sessions"] for p in s["participants"]}
        rooms = {by_name[s["room"]["name"]] for s in interview["sessions"] if s.get("room")}
        return people | rooms

    def wait_for_events(self, interview: dict, *, timeout: float = 60) -> dict[str, list[dict]]:
        """Every interviewer's and the room's calendar holding the loop's events, each with the video link."""
        calendars = (ORGANISER, *sorted(self.booked_attendees(interview)))
        seen: list = [None]

        def written():
            state = self.calendar.fake.state()  # one snapshot: events are written one session after the other
            found = seen[0] = {c: self.calendar.events(state, c) for c in calendars}
            complete = len(found[ORGANISER]) == len(interview["sessions"]) and all(found.values())
            return found if complete and all(e["video"] for v in found.values() for e in v) else None
        try:
            return self.stack.wait_until(written, timeout=timeout, message="the events with their video link")
        except StackTimeout as e:
            outbox = self.stack.sql("SELECT kind, state, attempts, last_error FROM scheduling_outboxitem ORDER BY id")
            raise AssertionError(f"{e}\nfound: {dump(seen[0])}\noutbox: {dump(outbox)}") from None

    def writeback_counts(self, key: str) -> tuple[collections.Counter, collections.Counter]:
        """(expected, made): the write requests of the ATS's write-back matrix row for `key`'s application, each once,
        and those the fake received (2xx), by (method, path template)."""
        from integrations.ats import matrix

        row = matrix.row_for(self.ats.provider)
        assert row is not None, f"no write-back matrix row for {self.ats.provider}"
        values = self.ats.path_values(self.ats.apps[key])
        expected: collections.Counter = collections.Counter()
        patterns = {}
        for write in row.writes:
            for method, template in write.writes_made:
                pattern = re.sub(r"\\\{(\w+)\\\}", lambda m: re.escape(values[m.group(1)]) if m.group(1) in values
                                 else "[^/]+", re.escape(template))
                expected[(method, template)] += 1
                patterns[(method, template)] = re.compile(pattern + "$")
        made: collections.Counter = collections.Counter()
        for r in self.ats.fake.requests():
            if r["status"] is not None and 200 <= r["status"] < 300:
                for (method, template), pattern in patterns.items():
                    if r["method"] == method and pattern.match(r["path"]):
                        made[(method, template)] += 1
        return expected, made

    def wait_for_writeback(self, key: str, *, timeout: float = 60) -> dict:
        """The ATS fake's state once it holds `key`'s note and stage move."""
        app = self.ats.apps[key]

        def done():
            state = self.ats.fake.state()
            return state if self.ats.notes(state, app) and self.ats.stage_name(state, app) == OFFER else None
        return self.stack.wait_until(done, timeout=timeout, message=f"the {self.ats.provider} write-back of {key}")

    def wait_for_dashboard(self, staff: Staff, *, loud: list[str], timeout: float = 60) -> str:
        """The dashboard page once exactly the tiles `loud` are not green (background work may still be finishing)."""
        seen: list = [None]

        def settled():
            page = staff.get("/dashboard/")
            seen[0] = loud_tiles(page)
            return page if seen[0] == loud else None
        try:
            return self.stack.wait_until(settled, timeout=timeout, message=f"a dashboard with only {loud} loud")
        except StackTimeout as e:
            raise AssertionError(f"{e}; loud: {seen[0]}") from None

    # ---- step 5 -------------------------------------------------------------------------------------------------

    def one_refresh_cycle(self) -> str:
        """Time passes beyond the free/busy cache's age (15 minutes) and the periodic refresh runs once, through the
        queue (the scheduler's own tick follows the real time: see scheduling/devstack.py). The clock then goes back
        to the real time, which the provider fakes' webhook signatures are checked against."""
        self.stack.set_clock(self.stack.now() + dt.timedelta(minutes=16))
        summary = self.stack.run_task("integrations.tasks.refresh_free_busy")
        self.stack.clear_clock()
        return summary

    def health(self) -> dict:
        return self.api("connection-health")


def dump(value: Any) -> str:
    return json.dumps(value, indent=1, default=str)[:4000]
