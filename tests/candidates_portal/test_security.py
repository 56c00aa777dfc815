"""What guards every portal response: the CSP and no-referrer headers, no caching, rate limits per address, per
link and per link's booking POSTs, a CSRF check that takes the `Origin: null` a no-referrer page sends, and an
access log that never holds a token."""

from __future__ import annotations

import datetime as dt
import io
import logging
from types import SimpleNamespace

import pytest
from django.test import Client
from gunicorn.config import Config

from candidates_portal.access_log import RedactingLogger
from candidates_portal.security import CSP
from tests.candidates_portal.support import book, emailed_token, opened, roomy, started
from tests.scheduling.booking.support import NOW


def _assert_portal_headers(response, what: str) -> None:
    assert response["Content-Security-Policy"] == CSP, what
    assert response["Referrer-Policy"] == "no-referrer", what
    assert "no-store" in response["Cache-Control"], what


def test_it_sends_the_portal_headers_on_every_page(world, client, frozen):
    request = started(world)
    token = emailed_token(world, request)
    responses = {"token": client.get(f"/s/{token}/"), "unknown token": client.get("/s/nothing-here/"),
                 "no session": Client().get("/schedule/")}
    option = roomy(request)
    for path in ("/schedule/", f"/schedule/confirm?start={option['start']}", "/schedule/windows"):
        responses[path] = client.get(path)
    responses["windows post"] = client.post("/schedule/windows", {"date_1": "2026-12-15", "start_1": "18:00",
                                                                  "end_1": "20:00"})
    responses["windows thanks"] = client.get("/schedule/windows/thanks")
    book(request, option)
    for path in ("/schedule/booked", "/schedule/booked.ics", "/schedule/reschedule", "/schedule/cancel"):
        responses[path] = client.get(path)
    responses["csrf refused"] = Client(enforce_csrf_checks=True).post("/schedule/new-link")
    frozen.move_to(NOW + dt.timedelta(days=10))  # past the interview: the link has expired
    responses["expired"] = client.get("/schedule/expired")

    assert responses["expired"].status_code == 410
    for what, response in responses.items():
        assert response.status_code < 500, what
        _assert_portal_headers(response, what)
    assert "Content-Security-Policy" not in Client().get("/healthz")  # the portal's own, not the site's


def test_it_limits_each_link_to_30_requests_a_minute(world, client, frozen):
    request = started(world)
    opened(client, world, request)  # the first of the link's 30

    codes = [client.get("/schedule/new-link/sent").status_code for _ in range(30)]

    assert codes == [200] * 29 + [429]
    limited = client.get("/schedule/")
    assert limited.status_code == 429 and limited["Retry-After"] == "60"
    assert "Please wait a minute" in limited.content.decode()
    _assert_portal_headers(limited, "429")
    frozen.shift(dt.timedelta(minutes=1))
    assert client.get("/schedule/").status_code == 200


def test_it_limits_each_address_to_60_requests_a_minute(world):
    one, two = Client(), Client(HTTP_X_FORWARDED_FOR="203.0.113.9")  # a forwarded-for header is not trusted
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")

    codes = [one.get(f"/s/guess-{i}/").status_code for i in range(60)]

    assert codes == [404] * 60
    assert one.get("/s/guess-61/").status_code == 429 and two.get("/s/guess-62/").status_code == 429
    assert elsewhere.get("/s/guess-63/").status_code == 404


def test_it_trusts_the_configured_proxies_for_the_address(world, settings):
    settings.PORTAL_TRUSTED_PROXIES = 1
    for _ in range(60):
        Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9").get("/s/guess/")

    assert Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9").get("/s/guess/").status_code == 429
    assert Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.10").get("/s/guess/").status_code == 404


def test_it_limits_each_link_to_5_booking_posts_a_minute(world, client):
    request = started(world)
    opened(client, world, request)

    codes = [client.post("/schedule/confirm", {"start": "2026-12-08T03:07:00Z"}).status_code for _ in range(6)]

    assert codes == [200] * 5 + [429]
    assert client.get("/schedule/").status_code == 200  # reading is still allowed


def _csrf_client(world, request) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    opened(client, world, request)
    client.get("/schedule/")
    return client, client.cookies["csrftoken"].value


@pytest.mark.parametrize(("headers", "status"), [
    ({"HTTP_ORIGIN": "null", "HTTP_SEC_FETCH_SITE": "same-origin"}, 303),  # a no-referrer page's own form
    ({"HTTP_ORIGIN": "null"}, 303),  # a browser without fetch metadata
    ({"HTTP_ORIGIN": "http://testserver"}, 303),
    ({"HTTP_ORIGIN": "null", "HTTP_SEC_FETCH_SITE": "cross-site"}, 403),  # e.g. a sandboxed frame elsewhere
    ({"HTTP_ORIGIN": "https://evil.example"}, 403),
])
def test_it_checks_the_origin_of_a_post(world, headers, status):
    request = started(world)
    client, token = _csrf_client(world, request)

    response = client.post("/schedule/timezone", {"zone": "UTC", "next": "/schedule/",
                                                  "csrfmiddlewaretoken": token}, **headers)

    assert response.status_code == status
    request.refresh_from_db()
    assert (request.candidate_timezone == "UTC") is (status == 303)


def test_it_still_needs_the_token_when_the_origin_is_null(world):
    request = started(world)
    client, _ = _csrf_client(world, request)

    response = client.post("/schedule/timezone", {"zone": "UTC", "csrfmiddlewaretoken": "x" * 64},
                           HTTP_ORIGIN="null", HTTP_SEC_FETCH_SITE="same-origin")

    assert response.status_code == 403


def test_it_answers_the_token_path_with_a_few_queries(world, client, django_assert_max_num_queries):
    request = started(world)
    token = emailed_token(world, request)

    # Two rate-limit counters (new ones here: the database cache's read, count, read and insert, in savepoints),
    # the link, its use count, and the new session: nothing is rendered on the path that holds the token.
    with django_assert_max_num_queries(22):
        response = client.get(f"/s/{token}/")

    assert response.status_code == 303 and response.content == b""


def test_it_keeps_tokens_out_of_the_access_log():
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" "%(r)s" %(s)s %(f)s')
    log = RedactingLogger(cfg)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    log.access_log.handlers = [handler]
    token = "Zq3v9-Ak2_mQ7xLr0pW4sT8uY1bN6cD5eF0gH3iJ2kL"
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/s/{token}/", "PATH_INFO": f"/s/{token}/",
               "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "", "REMOTE_ADDR": "203.0.113.9",
               "HTTP_REFERER": f"https://jobs.acme.test/s/{token}/"}
    response = SimpleNamespace(status="303 See Other", sent=0, headers=[("Location", "/schedule/")])

    log.access(response, SimpleNamespace(headers=[]), environ, dt.timedelta(milliseconds=4))

    line = out.getvalue()
    assert token not in line and line.count("/s/[redacted]") == 3 and " 303 " in line
