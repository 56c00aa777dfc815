"""Names, and small helpers that run the outbox as a worker would and read the fakes' state."""

from __future__ import annotations

import datetime as dt

from scheduling import clock
from scheduling.models import OutboxItem, SessionParticipant, WorkState
from scheduling.tasks import deliver_outbox_item

NOW = dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC)  # a Monday
DOMAIN = "acme.test"
ORGANISER = f"interviews@{DOMAIN}"
ALICE, BOB, CAROL, DAVE = (f"{n}@{DOMAIN}" for n in ("alice", "bob", "carol", "dave"))
ROOM = f"room-thames@{DOMAIN}"
SERVICE_ACCOUNT = "loopwise@acme-project.iam.gserviceaccount.com"


def deliver(rounds: int = 10) -> list[str]:
    """Run every outbox item that is due, as the worker's task would, until none is left."""
    results: list[str] = []
    for _ in range(rounds):
        due = list(OutboxItem.objects.filter(state__in=[WorkState.PENDING, WorkState.FAILED],
                                             next_attempt_at__lte=clock.now()).order_by("id")
                   .values_list("pk", flat=True))
        if not due:
            break
        results += [deliver_outbox_item(pk) for pk in due]
    return results


def parse(instant: str) -> dt.datetime:
    return dt.datetime.fromisoformat(instant.replace("Z", "+00:00"))


def events(fake, calendar_id: str = ORGANISER, *, live: bool = True) -> list[dict]:
    found = list(fake.state()["calendars"][calendar_id]["events"])
    return [e for e in found if e["status"] != "cancelled"] if live else found


def messages(mail, to: str) -> list[dict]:
    return [m for m in mail.state()["messages"] if to in m["to"]]


def ics(message: dict) -> str:
    (part,) = [a for a in message["attachments"] if a["content_type"] == "text/calendar"]
    return part["text"].replace("\r\n ", "").replace("\r\n", "\n")


def people_in(option: dict) -> set[str]:
    return {rid for s in option["sessions"] for ids in s["roles"] for rid in ids if rid.startswith("i")}


def overlaps(a: dict, b: dict) -> bool:
    return parse(a["start"]) < parse(b["end"]) + dt.timedelta(hours=1) and \
        parse(b["start"]) < parse(a["end"]) + dt.timedelta(hours=1)


def apart(options: list[dict], first: dict) -> dict:
    """An option on another day than `first` (so nothing overlaps, buffers included)."""
    day = parse(first["start"]).date()
    return next(o for o in options if parse(o["start"]).date() > day)


def no_person_double_booked() -> list[tuple]:
    """Live participations of one person whose busy ranges overlap an earlier one's (should be none)."""
    rows = SessionParticipant.objects.filter(active=True).order_by("interviewer_id", "busy_start").values_list(
        "interviewer_id", "busy_start", "busy_end", "session_id")
    clashes, last_person, reach = [], None, None
    for person, start, end, session in rows:
        if person == last_person and start < reach:
            clashes.append((person, session))
        reach = end if person != last_person else max(reach, end)
        last_person = person
    return clashes
