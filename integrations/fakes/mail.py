"""The `mail` fake: an SMTP server (aiosmtpd) on loopback that keeps every message, and a small web page that
lists them, so that Django's SMTP backend (smtplib) sends real mail in tests and in the demo.

    fake = MailFake.start(port=0, smtp_port=0)   # EMAIL_HOST = "127.0.0.1", EMAIL_PORT = fake.smtp_port
    fake.state()["messages"][0]["subject"]

HTTP: `GET /` lists the messages, newest first; `GET /messages/<id>` shows one, its links clickable. `GET
/_fake/state` answers `{"messages": [...]}`, oldest first, each message:

    {"id": 1, "from": "noreply@loopwise.test", "to": ["ana@example.com"],   # the envelope: MAIL FROM, RCPT TO
     "subject": "...", "date": "<the Date header>", "received_at": "<ISO 8601, UTC>",
     "text": "<text/plain body or null>", "html": "<text/html body or null>",
     "attachments": [{"filename": "invite.ics", "content_type": "text/calendar", "size": 512, "text": "..."}],
     "headers": {"From": "Loopwise <noreply@loopwise.test>", "To": "...", ...}}

Every part other than the chosen text and HTML bodies is listed under `attachments` (a text/calendar alternative
included), with `text` for text/* parts. Bodies come with LF line ends; attachments keep theirs. A header that
occurs twice keeps both values, joined by a newline. `GET /_fake/requests` lists one `{"method": "SMTP", "path":
"DATA", "status": <SMTP code, or null if dropped>}` per message, among page views. Seeding is refused: send mail.

Faults touch SMTP only (the web pages are an inspector, like /_fake/), at the answer to DATA. `target` is empty,
`smtp`, or a recipient address. `error`: `451 4.3.0 Temporary failure`, or `status` when it is an SMTP code
(421, 450-452, 550-554); `throttle`: `451 4.7.1`; `slow`: answer after `delay_ms`; `timeout`: keep the message,
then hold the answer `delay_ms` (30 s by default); `drop`: close the connection, keeping nothing.

Departures from a real mail server: nothing is relayed or delivered; any sender and recipient is accepted; no
AUTH, no STARTTLS, no size limit beyond aiosmtpd's 32 MiB; one state for all recipients.
"""

from __future__ import annotations

import asyncio
import email
import html
import re
import socket
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from integrations.fakes.base import DEFAULT_TIMEOUT_MS, FakeServer, Request, Response

SMTP_KINDS = ("error", "throttle", "slow", "timeout", "drop")
SMTP_ERROR_CODES = {421, 450, 451, 452, 550, 551, 552, 553, 554}
URL = re.compile(r"""https?://[^\s<>"'()]+""")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1a1a1a}}
table{{border-collapse:collapse;width:100%}}th,td{{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #ddd}}
pre{{white-space:pre-wrap;background:#f6f6f6;padding:1rem}}iframe{{width:100%;height:30rem;border:1px solid #ddd}}
dt{{font-weight:600}}a{{color:#0645ad}}</style></head>
<body>{body}</body></html>
"""


class MailFake(FakeServer):
    name = "mail"
    http_faults = False
    routes = [
        ("GET", r"/", "page_index"),
        ("GET", r"/messages/(?P<id>\d+)", "page_message"),
    ]

    def __init__(self, *, smtp_port: int = 0, **options: Any):
        super().__init__(**options)
        self.smtp_port = smtp_port
        self._controller: _Controller | None = None

    def new_state(self) -> dict[str, Any]:
        return {"messages": []}

    def on_start(self) -> None:
        self._controller = _Controller(_SmtpHandler(self), port=self.smtp_port)
        self._controller.start()
        self.smtp_port = self._controller.port

    def on_stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def extra_listeners(self) -> list[str]:
        return [f"mail smtp on 127.0.0.1:{self.smtp_port}"]

    # ---- keeping messages ----------------------------------------------------------------------------------

    def keep(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> dict[str, Any]:
        message = parse_message(raw)
        message.update({"from": mail_from, "to": list(rcpt_tos)})
        with self.lock:
            message["id"] = len(self.store["messages"]) + 1
            self.store["messages"].append(message)
        return message

    # ---- pages ---------------------------------------------------------------------------------------------

    def page_index(self, req: Request) -> Response:
        rows = "".join(
            f'<tr><td>{_time(m["received_at"])}</td><td>{html.escape(", ".join(m["to"]))}</td>'
            f'<td><a href="/messages/{m["id"]}">{html.escape(m["subject"] or "(no subject)")}</a></td></tr>'
            for m in reversed(self.store["messages"]))
        count = len(self.store["messages"])
        body = (f"<h1>Mail</h1><p>{count} message{'' if count == 1 else 's'}, received by SMTP on 127.0.0.1:"
                f"{self.smtp_port}. Newest first.</p>")
        if rows:
            body += f"<table><tr><th>Received</th><th>To</th><th>Subject</th></tr>{rows}</table>"
        return Response(200, PAGE.format(title="Mail", body=body))

    def page_message(self, req: Request) -> Response:
        messages = self.store["messages"]
        number = int(req.params["id"])
        if not 1 <= number <= len(messages):
            body = f'<p>No message {number}. <a href="/">All messages</a></p>'
            return Response(404, PAGE.format(title="No such message", body=body))
        m = messages[number - 1]
        fields = [("From", m["headers"].get("From", m["from"])), ("To", ", ".join(m["to"])),
                  ("Subject", m["subject"] or ""), ("Date", m["date"] or m["received_at"])]
        body = '<p><a href="/">All messages</a></p><dl>' + "".join(
            f"<dt>{name}</dt><dd>{html.escape(value)}</dd>" for name, value in fields) + "</dl>"
        if m["text"] is not None:
            body += f"<h2>Text</h2><pre>{linkify(m['text'])}</pre>"
        if m["html"] is not None:
            body += f'<h2>HTML</h2><iframe sandbox srcdoc="{html.escape(m["html"])}"></iframe>'
        if m["attachments"]:
            body += "<h2>Attachments</h2><ul>" + "".join(
                f"<li>{html.escape(a['filename'] or '(no name)')} ({html.escape(a['content_type'])}, "
                f"{a['size']} bytes)</li>" for a in m["attachments"]) + "</ul>"
        return Response(200, PAGE.format(title=html.escape(m["subject"] or "(no subject)"), body=body))


def parse_message(raw: bytes) -> dict[str, Any]:
    """The parts of an RFC 5322 message that the state shows (see the module docstring)."""
    msg: EmailMessage = email.message_from_bytes(raw, policy=policy.default)  # type: ignore[assignment]
    text_part, html_part = msg.get_body(preferencelist=("plain",)), msg.get_body(preferencelist=("html",))
    attachments = []
    for part in msg.walk():
        if part.is_multipart() or part is text_part or part is html_part:
            continue
        payload = part.get_payload(decode=True) or b""
        attachment = {"filename": part.get_filename(), "content_type": part.get_content_type(), "size": len(payload)}
        if part.get_content_maintype() == "text":
            attachment["text"] = part.get_content()
        attachments.append(attachment)
    headers: dict[str, str] = {}
    for name, value in msg.items():
        headers[name] = f"{headers[name]}\n{value}" if name in headers else str(value)
    return {"id": 0, "from": "", "to": [], "subject": msg.get("Subject"), "date": msg.get("Date"),
            "received_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "text": _lines(text_part.get_content()) if text_part is not None else None,
            "html": _lines(html_part.get_content()) if html_part is not None else None,
            "attachments": attachments, "headers": headers}


def linkify(text: str) -> str:
    """Escapes `text` and makes each http(s) URL in it a link; trailing punctuation stays outside the link."""
    out, last = [], 0
    for match in URL.finditer(text):
        url = match.group().rstrip(".,;:!?")
        out += [html.escape(text[last:match.start()]), f'<a href="{html.escape(url)}">{html.escape(url)}</a>']
        last = match.start() + len(url)
    return "".join(out) + html.escape(text[last:])


def _lines(body: str) -> str:
    return body.replace("\r\n", "\n")


def _time(iso: str) -> str:
    return iso.replace("T", " ").removesuffix("+00:00") + " UTC"


class _SmtpHandler:
    """aiosmtpd's handler: applies SMTP faults at the answer to DATA, then keeps the message."""

    def __init__(self, fake: MailFake):
        self.fake = fake

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fake = self.fake
        subjects = {"smtp", *envelope.rcpt_tos, *(r.lower() for r in envelope.rcpt_tos)}
        fault = fake.fault_active(SMTP_KINDS, subjects=subjects)
        kind = fault.kind if fault else None
        if kind == "drop":
            fake.record("SMTP", "DATA", None)
            server.transport.close()  # connection_lost() then cancels this coroutine
            await asyncio.sleep(5)
            return "421 4.3.0 Closing"
        if kind == "slow":
            await asyncio.sleep((fault.delay_ms or 0) / 1000)
        if kind in ("error", "throttle"):
            if kind == "throttle":
                reply = "451 4.7.1 Too many messages, try again later"
            elif fault.status in SMTP_ERROR_CODES:
                reply = f"{fault.status} {fault.status // 100}.3.0 Failure injected by the mail fake"
            else:
                reply = "451 4.3.0 Temporary failure"
            fake.record("SMTP", "DATA", int(reply[:3]))
            return reply
        message = fake.keep(envelope.mail_from, envelope.rcpt_tos, envelope.original_content or b"")
        fake.record("SMTP", "DATA", 250)
        if kind == "timeout":
            await asyncio.sleep((DEFAULT_TIMEOUT_MS if fault.delay_ms is None else fault.delay_ms) / 1000)
        return f"250 2.0.0 OK queued as {message['id']}"


class _Controller(Controller):
    """aiosmtpd's threaded Controller, bound to 127.0.0.1 through a socket of our own, so that port 0 works
    (Controller checks readiness by connecting to `port`, which must be the real one)."""

    def __init__(self, handler: _SmtpHandler, *, port: int):
        # proto must say TCP, or asyncio leaves Nagle on and each multi-line reply waits for a delayed ACK
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen()
        super().__init__(handler, hostname="127.0.0.1", port=self._sock.getsockname()[1],
                         server_hostname="mail.fake.localhost")

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)

