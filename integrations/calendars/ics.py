"""ICS invitations (RFC 5545, through the icalendar library) for people without a calendar we write to:
participants outside the organisation, and the candidate (the portal attaches one to every email).

The UID is stable for a booked session across reschedules; SEQUENCE grows with each change;
METHOD is REQUEST for a new or moved event and CANCEL when it is called off, as mail clients
expect to update the same entry in place.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//Loopwise//Interview scheduling//EN"


@dataclass(frozen=True)
class IcsEvent:
    uid: str
    sequence: int
    summary: str
    start: dt.datetime
    end: dt.datetime
    organizer_email: str
    organizer_name: str = ""
    description: str = ""
    location: str = ""
    url: str = ""


def ics_document(events: Sequence[IcsEvent], *, attendee_email: str, attendee_name: str = "",
                 method: str = "REQUEST", stamp: dt.datetime) -> bytes:
    """One VCALENDAR with a VEVENT per event, addressed to one attendee."""
    if method not in ("REQUEST", "CANCEL", "PUBLISH"):
        raise ValueError(f"method: {method!r} is not REQUEST, CANCEL or PUBLISH")
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    for e in events:
        ev = Event()
        ev.add("uid", e.uid)
        ev.add("sequence", e.sequence)
        ev.add("dtstamp", stamp.astimezone(dt.UTC))
        ev.add("dtstart", e.start.astimezone(dt.UTC))
        ev.add("dtend", e.end.astimezone(dt.UTC))
        ev.add("summary", e.summary)
        ev.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
        if e.description:
            ev.add("description", e.description)
        if e.location:
            ev.add("location", e.location)
        if e.url:
            ev.add("url", e.url)
        organizer = vCalAddress(f"mailto:{e.organizer_email}")
        if e.organizer_name:
            organizer.params["cn"] = vText(e.organizer_name)
        ev["organizer"] = organizer
        attendee = vCalAddress(f"mailto:{attendee_email}")
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("NEEDS-ACTION")
        attendee.params["rsvp"] = vText("TRUE")
        if attendee_name:
            attendee.params["cn"] = vText(attendee_name)
        ev.add("attendee", attendee, encode=0)
        cal.add_component(ev)
    return cal.to_ical()
