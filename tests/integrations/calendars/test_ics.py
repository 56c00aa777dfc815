"""ICS invitations parse with icalendar and carry UID, SEQUENCE and METHOD as mail clients need."""

from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar

from integrations.calendars.ics import IcsEvent, ics_document

T0 = dt.datetime(2026, 12, 3, 14, 0, tzinfo=dt.UTC)


def event(seq=0, start=T0):
    return IcsEvent(uid="lw-42-coding@loopwise", sequence=seq, summary="Coding interview", start=start,
                    end=start + dt.timedelta(hours=1), organizer_email="interviews@example.com",
                    organizer_name="Example Interviews", location="https://meet.google.com/abc-defg-hij")


def parse(raw: bytes):
    cal = Calendar.from_ical(raw)
    return cal, cal.walk("VEVENT")


def test_it_writes_a_request_with_a_stable_uid_and_sequence():
    cal, [ev] = parse(ics_document([event()], attendee_email="guest@partner.org", attendee_name="Guest", stamp=T0))
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(ev["UID"]) == "lw-42-coding@loopwise" and int(ev["SEQUENCE"]) == 0
    assert ev.decoded("DTSTART") == T0 and ev.decoded("DTEND") == T0 + dt.timedelta(hours=1)
    assert str(ev["ATTENDEE"]) == "mailto:guest@partner.org" and str(ev["ORGANIZER"]) == "mailto:interviews@example.com"


def test_it_keeps_the_uid_and_raises_the_sequence_on_an_update():
    moved = T0 + dt.timedelta(days=1)
    _, [ev] = parse(ics_document([event(seq=1, start=moved)], attendee_email="g@partner.org", stamp=T0))
    assert str(ev["UID"]) == "lw-42-coding@loopwise" and int(ev["SEQUENCE"]) == 1 and ev.decoded("DTSTART") == moved


def test_it_cancels_with_method_cancel_and_status_cancelled():
    cal, [ev] = parse(ics_document([event(seq=2)], attendee_email="g@partner.org", method="CANCEL", stamp=T0))
    assert str(cal["METHOD"]) == "CANCEL" and str(ev["STATUS"]) == "CANCELLED" and int(ev["SEQUENCE"]) == 2


def test_it_holds_one_event_per_session_of_a_loop():
    second = IcsEvent(**{**event().__dict__, "uid": "lw-42-design@loopwise", "start": T0 + dt.timedelta(hours=1),
                         "end": T0 + dt.timedelta(hours=2)})
    _, events = parse(ics_document([event(), second], attendee_email="g@partner.org", stamp=T0))
    assert [str(e["UID"]) for e in events] == ["lw-42-coding@loopwise", "lw-42-design@loopwise"]


def test_it_refuses_an_unknown_method():
    with pytest.raises(ValueError, match="method"):
        ics_document([event()], attendee_email="g@partner.org", method="PUBLISHX", stamp=T0)
