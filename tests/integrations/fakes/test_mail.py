"""The mail fake: messages sent with smtplib land in its state and on its page; SMTP faults; the command line."""

from __future__ import annotations

import re
import signal
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
import requests

from integrations.fakes.mail import MailFake

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def mail_fake():
    fake = MailFake.start()
    yield fake
    fake.stop()


@pytest.fixture
def http():
    with requests.Session() as session:
        session.trust_env = False
        yield session


def send(fake: MailFake, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", fake.smtp_port, timeout=5) as smtp:
        smtp.send_message(message)


def plain(subject: str = "Pick a time", to: str = "ana@example.com", text: str = "Hello Ana") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Loopwise <scheduling@loopwise.localhost>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Thu, 26 Nov 2026 09:30:00 +0000"
    message.set_content(text)
    return message


def test_it_keeps_a_plain_message(mail_fake):
    send(mail_fake, plain(text="Hello Ana,\nchoose a time."))

    [message] = mail_fake.state()["messages"]
    assert message["id"] == 1
    assert message["from"] == "scheduling@loopwise.localhost"
    assert message["to"] == ["ana@example.com"]
    assert message["subject"] == "Pick a time"
    assert message["date"] == "Thu, 26 Nov 2026 09:30:00 +0000"
    assert message["text"] == "Hello Ana,\nchoose a time.\n"
    assert message["html"] is None
    assert message["attachments"] == []
    assert message["headers"]["From"] == "Loopwise <scheduling@loopwise.localhost>"


def test_it_keeps_a_multipart_message_with_attachments(mail_fake):
    message = plain(to="Ana <ana@example.com>, ben@example.com")
    message.add_alternative("<p>Hello <b>Ana</b></p>", subtype="html")
    message.add_attachment("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", subtype="calendar", filename="invite.ics")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="brief.pdf")

    send(mail_fake, message)

    [kept] = mail_fake.state()["messages"]
    assert kept["to"] == ["ana@example.com", "ben@example.com"]
    assert kept["text"] == "Hello Ana\n"
    assert kept["html"] == "<p>Hello <b>Ana</b></p>\n"
    assert kept["attachments"] == [
        {"filename": "invite.ics", "content_type": "text/calendar", "size": 32,
         "text": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"},
        {"filename": "brief.pdf", "content_type": "application/pdf", "size": 8},
    ]


def test_it_lists_messages_newest_first_on_its_page(mail_fake, http):
    send(mail_fake, plain(subject="First"))
    send(mail_fake, plain(subject="Second <b>bold</b>", to="ben@example.com"))

    page = http.get(f"{mail_fake.url}/").text

    assert page.index("Second &lt;b&gt;bold&lt;/b&gt;") < page.index("First")
    assert '<a href="/messages/2">' in page
    assert "ben@example.com" in page
    assert "<b>bold</b>" not in page


def test_it_shows_a_message_with_its_links_clickable(mail_fake, http):
    send(mail_fake, plain(text="Choose: https://loopwise.test/s/abc?x=1&y=2.\n<script>alert(1)</script>"))

    page = http.get(f"{mail_fake.url}/messages/1").text

    assert '<a href="https://loopwise.test/s/abc?x=1&amp;y=2">https://loopwise.test/s/abc?x=1&amp;y=2</a>.' in page
    assert "&lt;script&gt;" in page
    assert "<script>" not in page


def test_it_answers_404_for_an_unknown_message(mail_fake, http):
    assert http.get(f"{mail_fake.url}/messages/7").status_code == 404


def test_it_answers_451_once_then_accepts(mail_fake):
    mail_fake.add_fault(kind="error", count=1)

    with pytest.raises(smtplib.SMTPDataError) as failed:
        send(mail_fake, plain())
    send(mail_fake, plain())

    assert failed.value.smtp_code == 451
    assert failed.value.smtp_error == b"4.3.0 Temporary failure"
    assert len(mail_fake.state()["messages"]) == 1
    assert [(r["method"], r["path"], r["status"]) for r in mail_fake.requests()] == [
        ("SMTP", "DATA", 451), ("SMTP", "DATA", 250)]


def test_it_narrows_a_fault_to_a_recipient(mail_fake):
    mail_fake.add_fault(kind="error", target="ben@example.com", status=554)

    send(mail_fake, plain(to="ana@example.com"))
    with pytest.raises(smtplib.SMTPDataError) as failed:
        send(mail_fake, plain(to="ben@example.com"))

    assert failed.value.smtp_code == 554
    assert [m["to"] for m in mail_fake.state()["messages"]] == [["ana@example.com"]]


def test_it_drops_the_connection_keeping_nothing(mail_fake):
    mail_fake.add_fault(kind="drop", count=1)

    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(mail_fake, plain())

    assert mail_fake.state() == {"messages": []}
    assert [r["status"] for r in mail_fake.requests()] == [None]


def test_it_never_faults_its_own_pages(mail_fake, http):
    mail_fake.add_fault(kind="error")

    assert http.get(f"{mail_fake.url}/").status_code == 200


def test_it_empties_on_reset(mail_fake):
    send(mail_fake, plain())
    mail_fake.add_fault(kind="error")

    mail_fake.reset()
    send(mail_fake, plain(subject="After the reset"))

    assert [(m["id"], m["subject"]) for m in mail_fake.state()["messages"]] == [(1, "After the reset")]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_it_runs_from_the_command_line_and_stops_cleanly(http, stop_signal):
    process = subprocess.Popen([sys.executable, "-m", "integrations.fakes", "mail", "--port", "0"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first, second = process.stdout.readline(), process.stdout.readline()
        url = re.fullmatch(r"mail listening on (http://127\.0\.0\.1:\d+)\n", first).group(1)
        smtp_port = int(re.fullmatch(r"mail smtp on 127\.0\.0\.1:(\d+)\n", second).group(1))

        assert http.get(f"{url}/_fake/state").json() == {"messages": []}
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=5) as smtp:
            assert smtp.noop()[0] == 250
    finally:
        process.send_signal(stop_signal)
        _, err = process.communicate(timeout=10)

    assert process.returncode == 0
    assert "Traceback" not in err
