"""Per-user calendar consent: an emailed, signed, expiring link; OAuth with `state` and PKCE; a fixed
redirect URI; the refresh token stored encrypted on the interviewer's own CalendarConnection.

The flow is the same for every provider: `settings.CALENDAR_OAUTH[provider]` names the client,
the authorize and token URLs and the scopes (Microsoft adds its entry with its own issue).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse

from integrations.http import DEFAULT_TIMEOUT
from integrations.models import Calendar, CalendarConnection, Health
from scheduling import clock
from scheduling.audit import audit_log
from scheduling.errors import LoopwiseError
from scheduling.models import Interviewer, OrganisationSettings

SALT = "loopwise.calendar-consent"
LINK_MAX_AGE = 7 * 24 * 3600
SESSION_KEY = "calendar_oauth"


class ConsentError(LoopwiseError):
    """The consent could not be completed; the message is safe to show to the interviewer."""


@dataclass(frozen=True)
class Started:
    authorize_url: str
    state: str
    verifier: str


def oauth_config(provider: str) -> dict:
    config = settings.CALENDAR_OAUTH.get(provider)
    if not config or not config["client_id"]:
        raise ConsentError(f"{provider} calendar consent is not configured (no OAuth client id).")
    return config


def redirect_uri(provider: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("calendar_oauth_callback", args=[provider])


def consent_link(*, interviewer: Interviewer, provider: str) -> str:
    token = signing.dumps({"i": interviewer.pk, "p": provider}, salt=SALT, compress=True)
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("calendar_consent_start", args=[token])


def consent_link_send(*, interviewer: Interviewer, provider: str = "google", actor=None) -> str:
    """Email the interviewer a link to grant calendar access; returns the link (for the admin message)."""
    oauth_config(provider)
    link = consent_link(interviewer=interviewer, provider=provider)
    org = OrganisationSettings.load()
    body = (f"Hello {interviewer.first_name},\n\n{org.company_name} schedules interviews with Loopwise. To offer "
            f"candidates only the times you are free, Loopwise needs to read your calendar's free/busy times and "
            f"add the interviews you sit to it.\n\nGrant access here (the link works for 7 days):\n{link}\n\n"
            f"Loopwise never reads the content of your other events.")
    EmailMessage(subject="Connect your calendar to Loopwise", body=body, from_email=settings.DEFAULT_FROM_EMAIL,
                 to=[interviewer.email]).send()
    audit_log(action="calendar.consent_link_sent", obj=interviewer, actor=actor, summary=provider)
    return link


def consent_start(*, token: str, session) -> Started:
    """Check the emailed link and build the provider's authorize URL, keeping state and verifier in the session."""
    try:
        data = signing.loads(token, salt=SALT, max_age=LINK_MAX_AGE)
    except signing.SignatureExpired:
        raise ConsentError("This link has expired. Ask your recruiting coordinator for a new one.") from None
    except signing.BadSignature:
        raise ConsentError("This link is not valid.") from None
    interviewer = Interviewer.objects.filter(pk=data["i"], active=True).first()
    if interviewer is None:
        raise ConsentError("This link is no longer valid.")
    provider = data["p"]
    config = oauth_config(provider)
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    pending = session.get(SESSION_KEY, {})
    pending[state] = {"i": interviewer.pk, "p": provider, "v": verifier}
    session[SESSION_KEY] = pending
    params = {"client_id": config["client_id"], "redirect_uri": redirect_uri(provider), "response_type": "code",
              "scope": " ".join(config["scopes"]), "state": state, "code_challenge": challenge,
              "code_challenge_method": "S256", "login_hint": interviewer.email, **config["extra"]}
    return Started(f"{config['authorize_url']}?{urlencode(params)}", state, verifier)


def consent_finish(*, provider: str, state: str, code: str, error: str, session) -> Interviewer:
    """Exchange the code (with the PKCE verifier) and store the grant on the interviewer's own connection."""
    pending = session.get(SESSION_KEY, {})
    entry = pending.pop(state, None) if state else None
    session[SESSION_KEY] = pending
    if entry is None or entry["p"] != provider:
        raise ConsentError("This sign-in did not start here, or it was already used. Open the emailed link again.")
    if error:
        raise ConsentError(f"Access was not granted ({error}). You can open the emailed link again.")
    config = oauth_config(provider)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri(provider),
            "client_id": config["client_id"], "client_secret": config["client_secret"], "code_verifier": entry["v"]}
    if provider == "microsoft":
        form["scope"] = " ".join(config["scopes"])  # the v2.0 endpoint wants the scopes again
    http = requests.Session()
    if config.get("ca_bundle"):
        # A private CA (the demo's local fake): trust exactly it, whatever the environment says.
        http.trust_env, http.verify = False, config["ca_bundle"]
    try:
        with http:
            resp = http.post(config["token_url"], data=form, timeout=DEFAULT_TIMEOUT)
        doc = resp.json()
    except (requests.RequestException, ValueError):
        raise ConsentError("The calendar provider did not answer. Please try the emailed link again.") from None
    if resp.status_code != 200 or not doc.get("refresh_token"):
        raise ConsentError(f"The calendar provider refused the grant ({doc.get('error', resp.status_code)}).")
    interviewer = Interviewer.objects.get(pk=entry["i"])
    credentials = {"client_id": config["client_id"], "client_secret": config["client_secret"],
                   "refresh_token": doc["refresh_token"]}
    if config.get("tenant"):
        credentials["tenant"] = config["tenant"]
    if config.get("ca_bundle"):
        credentials["ca_bundle"] = config["ca_bundle"]
    with transaction.atomic():
        connection, _ = CalendarConnection.objects.update_or_create(
            provider=provider, auth_mode=CalendarConnection.AuthMode.USER_OAUTH, account_email=interviewer.email,
            defaults={"name": f"{interviewer.email} ({provider})", "credentials": credentials,
                      "base_url": config["api_base_url"], "token_url": config["token_url"],
                      "organiser_calendar": interviewer.email, "active": True, "health": Health.OK,
                      "last_error": "", "consecutive_failures": 0, "last_success_at": clock.now()})
        calendar, _ = Calendar.objects.get_or_create(connection=connection, external_id=interviewer.email)
        Calendar.objects.filter(pk=calendar.pk).update(health=Health.UNKNOWN, consecutive_failures=0,
                                                       busy_fetched_at=None)
        interviewer.calendar = calendar
        interviewer.availability_source = Interviewer.Source.CALENDAR
        interviewer.save(update_fields=["calendar", "availability_source"])
        audit_log(action="calendar.consent_granted", obj=connection, actor_label="interviewer", summary=provider)
        transaction.on_commit(lambda: _refresh_soon(calendar.pk))
    return interviewer


def _refresh_soon(calendar_id: int) -> None:
    from django_q.tasks import async_task

    async_task("integrations.tasks.refresh_calendar", calendar_id, group="freebusy")
