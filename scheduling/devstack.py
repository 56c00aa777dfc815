"""The whole of Loopwise on loopback, as a user runs it, for end-to-end tests and benchmarks.

`Stack` starts, each as a subprocess in a process group of its own: every provider fake (`python -m
integrations.fakes NAME`, /work/shared/fakes.md), gunicorn (`config.wsgi`, N web workers) and N `manage.py
qcluster` processes, on one PostgreSQL database and one Redis database index, with a clock file of its own
(`LOOPWISE_CLOCK_FILE`, scheduling/clock.py), so that moving time moves it for the web server and every
worker at once. The mail fake receives every email (EMAIL_HOST/PORT), calendar settings point at the google
and microsoft fakes (as scripts/run.py does), and ATS connections point at their fake through their own
`base_url` (seeded by the caller)::

    url = database_create("postgres://postgres@127.0.0.1:5432/loopwise_bench")
    with Stack(database_url=url, workers=2) as stack:       # start() ... stop()
        stack.migrate()                                     # migrate + sync_schedules, in the stack's env
        stack.call("tests.e2e.scenario.seed_org", ...)      # any function, in the stack's env, JSON back
        stack.fake("greenhouse").stage_change(555, "Onsite")
        stack.wait_until(lambda: stack.sql("SELECT count(*) FROM scheduling_schedulingrequest")[0][0] == 1)
        stack.set_clock(stack.now() + dt.timedelta(hours=25))
        stack.run_task("scheduling.tasks.send_reminders")   # a periodic task, through the queue
        stack.kill_worker(0); stack.restart_worker(0)       # SIGKILL a qcluster tree, start it again
        stack.reset()                                       # empty again, for the next test
    database_drop(url)

Choices:
- Time. django-q2's scheduler compares its Schedule rows with the real time, not with the clock file, so moving
  the clock does not make a periodic task due. `run_task(func)` does what the scheduler would do when it is due:
  it puts the same task on the same queue (a package signed as django-q2 signs it) and waits for its result
  row. The Schedule rows are declared all the same (`migrate` runs `sync_schedules`, as a deploy does), so the
  periodic tasks also run on their real-time crons; they are idempotent, so either way does the work once.
- The provider fakes keep the real time (their webhooks carry real timestamps, which Lever and iCIMS
  signatures bound to five minutes of Loopwise's clock): move the clock back (`set_clock(real_now())` or
  `clear_clock()`) before a fake sends a webhook that must be fresh.
- Redis: without `redis_url`, the stack claims a free database index from 1 to 14 (a key with a day's expiry,
  set by a script that also checks that the index is empty or was a stack's), flushes it, and releases it on
  stop; indexes 0 (the demo) and 15 (bench_webhooks) are never taken. With `redis_url`, that index is flushed.
- Nothing waits for real in the product: `LOOPWISE_MAX_SLEEP_SECONDS` is 0.01 unless `env` says otherwise.
  Only the waiting side polls (`wait_until`, with short sleeps and a bound).
- No orphans: every process starts in a new session (its own process group); `stop()` sends SIGTERM to each group
  (to a qcluster's leader alone: it stops what it forked itself, and hangs when they die first), then SIGKILL to
  every group still there after `grace` seconds, so qcluster's and gunicorn's forked workers go with their
  parent; `kill_worker` SIGKILLs the whole group at once. Each group leader also gets SIGTERM if the thread that
  started it exits (PR_SET_PDEATHSIG), and `stop()` runs at interpreter exit: start a stack from the main thread.
- Between tests, `reset()` empties the stack without restarting it: fakes reset, data tables truncated (ids keep
  counting), Redis flushed, clock back to the real time.
- Logs of every process go to `workdir/logs/<name>.log` (the workdir is a temporary directory unless given;
  gunicorn's access log is `access.log`, one line per request: `host "METHOD /path" status durationms`).

The calling process needs no Django settings: the stack's processes get their own environment (`env`), whatever the
caller's settings say, and `enqueue` signs with the stack's own SECRET_KEY.
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import datetime as dt
import json
import os
import pickle
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import redis as redis_lib
from psycopg.conninfo import conninfo_to_dict, make_conninfo

__all__ = ["FAKE_NAMES", "StackError", "StackTimeout", "FakeHandle", "Stack", "database_create", "database_drop",
           "free_port", "real_now"]

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
FAKE_NAMES = ("mail", "google", "microsoft", "greenhouse", "lever", "icims", "jobvite")
Q_NAME = "loopwise"                 # Q_CLUSTER["name"] in config/settings.py: the queue's key and signing salt
REDIS_INDEXES = range(1, 15)        # 0 is the demo's (`make run`), 15 bench_webhooks'
CLAIM_KEY, MARK_KEY = "loopwise:devstack:claim", "loopwise:devstack:mark"
CLAIM_SECONDS = 24 * 3600
# Extra lines each fake prints after its first (fakes.md): the mail fake's SMTP port, the microsoft login host
# and the CA its certificate comes from.
EXTRA_LINES = {"mail": ("smtp",), "microsoft": ("login on", "login ca")}
KEEP_TABLES = ("django_migrations", "django_content_type", "auth_permission", "django_site", "django_q_schedule")
# Inherited variables that would point the stack at the caller's own services or settings.
NOT_INHERITED = ("PYTEST_", "DJANGO_", "LOOPWISE_", "Q_CLUSTER", "REDIS_", "DATABASE_", "EMAIL_", "GOOGLE_",
                 "MICROSOFT_", "PUBLIC_BASE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS")
T = TypeVar("T")

# claim(KEYS: claim, mark; ARGV: owner, seconds): take the index when nobody claims it and it is empty or was a
# stack's; flush it and claim it, atomically.
_CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('DBSIZE') > 0 and redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('FLUSHDB')
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], '1')
return 1
"""
# flush(KEYS: claim, mark; ARGV: owner, seconds): empty the index but keep it claimed (and marked as a stack's).
_FLUSH = """
redis.call('FLUSHDB')
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], '1')
return 1
"""
# release(KEYS: claim; ARGV: owner): flush the index if this owner still holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('FLUSHDB') return 1 end
return 0
"""


class StackError(RuntimeError):
    """The stack could not do what was asked (a process did not start, a task failed); the message says what."""


class StackTimeout(StackError):
    """`wait_until` (or a start-up wait) ran out of time."""


def real_now() -> dt.datetime:
    """The real time, aware, in UTC (what the provider fakes use)."""
    return dt.datetime.now(dt.UTC)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------------------------
# Databases


def _admin_conninfo(database_url: str) -> tuple[str, str]:
    """(conninfo of the server's `postgres` database, the database name of `database_url`)."""
    try:
        params = conninfo_to_dict(database_url)
    except psycopg.ProgrammingError as e:
        raise StackError(f"database_url: not a PostgreSQL URL ({e})") from None
    name = params.get("dbname") or ""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name):
        raise StackError(f"database_url: the database name must be lower-case letters, digits and _, not {name!r}")
    params["dbname"] = "postgres"
    return make_conninfo(**params), name


def database_create(database_url: str) -> str:
    """Create the database of `database_url`, dropping it first if it exists (its connections are ended).
    Returns `database_url`. Raises StackError for a name that is not plain lower-case letters, digits and _."""
    admin, name = _admin_conninfo(database_url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url


def database_drop(database_url: str) -> None:
    """Drop the database of `database_url` (its connections are ended); nothing if it does not exist."""
    admin, name = _admin_conninfo(database_url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------------------------------------------
# Processes


try:  # resolved here, not in the forked child, where loading a library could deadlock
    _PRCTL: Callable[..., int] | None = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _PRCTL = None


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM this process when the thread that started it exits (Linux; nothing elsewhere)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class _Proc:
    """One subprocess in its own process group, logging to a file."""

    def __init__(self, name: str, args: Sequence[str], *, env: Mapping[str, str], log: Path,
                 stdout_pipe: bool = False, term_leader: bool = False):
        self.name, self.args, self.log = name, list(args), log
        # qcluster stops its forked children itself on SIGTERM, and hangs when they die first: signal it alone.
        self.term_leader = term_leader
        self._log_file = open(log, "ab")  # closed by close()
        self.popen = subprocess.Popen(
            self.args, cwd=ROOT, env=dict(env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else self._log_file, stderr=self._log_file,
            start_new_session=True, preexec_fn=_die_with_parent)
        self.pgid = self.popen.pid  # a new session: the leader's pid is the group's id

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def terminate(self) -> None:
        """SIGTERM, to the leader alone or to the whole group (see `term_leader`)."""
        if self.term_leader:
            if self.alive():
                self.popen.send_signal(signal.SIGTERM)
        else:
            self.signal_group(signal.SIGTERM)

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def group_alive(self) -> bool:
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def close(self) -> None:
        # A piped stdout belongs to the thread draining it, which ends at the pipe's end of file.
        self._log_file.close()


def _stop_all(procs: Sequence[_Proc], grace: float) -> None:
    """SIGTERM every group, wait up to `grace` seconds, then SIGKILL the groups still there; reap the leaders."""
    for p in procs:
        p.terminate()
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.group_alive() for p in procs):
        for p in procs:
            if p.alive():
                try:
                    p.popen.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    pass
        time.sleep(0.05)
    for p in procs:
        if p.group_alive():
            p.signal_group(signal.SIGKILL)
    for p in procs:
        try:
            p.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        p.close()


# ---------------------------------------------------------------------------------------------------------------
# Fakes


class FakeHandle:
    """A running fake, seen through its `/_fake/` control surface (the same helpers as the in-process fakes')."""

    def __init__(self, name: str, url: str, *, extra: Mapping[str, str] | None = None):
        self.name, self.url = name, url
        self.extra = dict(extra or {})  # smtp_port (mail); login_url, ca_path (microsoft)

    def __repr__(self) -> str:
        return f"<FakeHandle {self.name} {self.url}>"

    def call(self, method: str, path: str, body: Any = None, *, timeout: float = 30) -> Any:
        """One control call; the JSON answer. Raises StackError with the fake's answer on an HTTP error."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with _OPENER.open(req, timeout=timeout) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as e:
            raise StackError(f"{self.name} fake: {method} {path} answered {e.code}: {e.read().decode()}") from None

    def state(self) -> Any:
        return self.call("GET", "/_fake/state")

    def reset(self) -> None:
        self.call("POST", "/_fake/reset")

    def seed(self, data: Any) -> Any:
        return self.call("POST", "/_fake/seed", data)

    def add_fault(self, **fault: Any) -> dict[str, Any]:
        return self.call("POST", "/_fake/faults", fault)

    def clear_faults(self) -> None:
        self.call("DELETE", "/_fake/faults")

    def requests(self) -> list[dict[str, Any]]:
        return self.call("GET", "/_fake/requests")

    def stage_change(self, application: Any, stage: str, **more: Any) -> Any:
        return self.call("POST", "/_fake/stage_change", {"application": application, "stage": stage, **more})


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _Pickle:
    """django-q2's package serializer (django_q.signing.PickleSerializer), without importing django-q2's settings."""

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def loads(data: bytes) -> Any:
        return pickle.loads(data)


# ---------------------------------------------------------------------------------------------------------------
# The stack


class Stack:
    """Loopwise's web server, workers and every provider fake, on loopback (see the module docstring).

    `database_url`: a PostgreSQL database the stack may use (see `database_create`); it is migrated by `migrate()`,
    not by `start()`. `redis_url`: a Redis database the stack may flush; None claims a free index. `workers`:
    qcluster processes (each with Q_CLUSTER's own worker count). `web_workers`: gunicorn workers. `fakes`: which
    fakes to start (default all of FAKE_NAMES that exist here). `env`: more environment for every process (it
    wins over the stack's own values). `workdir`: where logs and the clock file go (default a temporary
    directory, removed on stop unless `keep_workdir`). `grace`: seconds stop() waits before SIGKILL."""

    def __init__(self, *, database_url: str, redis_url: str | None = None, workers: int = 2, web_workers: int = 2,
                 fakes: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
                 workdir: str | Path | None = None, keep_workdir: bool = False, grace: float = 10.0,
                 redis_server: str = "redis://127.0.0.1:6379"):
        from integrations.fakes import FAKES

        if workers < 0 or web_workers < 1:
            raise StackError("workers: 0 or more; web_workers: 1 or more")
        self.database_url = database_url
        self.workers_wanted, self.web_workers, self.grace = workers, web_workers, grace
        self.fake_names = tuple(n for n in (fakes if fakes is not None else FAKE_NAMES) if n in FAKES)
        unknown = sorted(set(fakes or ()) - set(FAKES))
        if unknown:
            raise StackError(f"fakes: no fake named {', '.join(unknown)} (known: {', '.join(sorted(FAKES))})")
        self._extra_env = dict(env or {})
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="loopwise-stack-"))
        self.keep_workdir = keep_workdir
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self.clock_file = self.workdir / "clock"
        self.secret_key = secrets.token_urlsafe(50)
        self._redis_server, self._redis_url_given = redis_server.rstrip("/"), redis_url
        self.redis_url = redis_url or ""
        self._owner = f"{os.getpid()}:{uuid.uuid4().hex}"
        self._redis: redis_lib.Redis | None = None
        self._db: psycopg.Connection | None = None
        self.fakes: dict[str, FakeHandle] = {}
        self._fake_procs: dict[str, _Proc] = {}
        self.web: _Proc | None = None
        self.url = ""
        self.workers: list[_Proc | None] = []
        self._started = False

    # ---- life --------------------------------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self, *, timeout: float = 90) -> Stack:
        """Claim Redis, start the fakes, gunicorn and the qcluster processes, and wait until each answers.
        Raises StackError (with the end of the process's log) when one does not start; nothing is left running."""
        if self._started:
            return self
        self._started = True
        atexit.register(self.stop)
        try:
            self._claim_redis()
            for name in self.fake_names:
                self._start_fake(name, timeout=timeout)
            self._start_web(timeout=timeout)
            for _ in range(self.workers_wanted):
                self.workers.append(None)
            for i in range(self.workers_wanted):
                self._start_worker(i)
            self._wait_workers(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process (SIGTERM to each group, SIGKILL after `grace`), release Redis, close connections.
        Safe to call twice."""
        if not self._started:
            return
        self._started = False
        atexit.unregister(self.stop)
        procs = [p for p in (*self.workers, self.web, *self._fake_procs.values()) if p is not None]
        _stop_all(procs, self.grace)
        self.workers, self.web, self._fake_procs = [], None, {}
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._redis is not None:
            try:
                if self._redis_url_given:
                    self._redis.flushdb()
                else:
                    self._redis.eval(_RELEASE, 1, CLAIM_KEY, self._owner)
            except redis_lib.RedisError:
                pass
            self._redis.close()
            self._redis = None
        if self._own_workdir and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # ---- environment ------------------------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """The environment every process of the stack gets (and `manage`/`call` use)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
        env.update({
            "DJANGO_SETTINGS_MODULE": "config.settings", "LOOPWISE_ENV": "development", "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": self.database_url, "SECRET_KEY": self.secret_key,
            "LOOPWISE_CLOCK_FILE": str(self.clock_file), "LOOPWISE_MAX_SLEEP_SECONDS": "0.01",
            "LOG_LEVEL": "WARNING", "LOG_FORMAT": "text",
        })
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        if self.url:
            env["PUBLIC_BASE_URL"] = self.url
        if "mail" in self.fakes:
            env.update({"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": self.fakes["mail"].extra["smtp_port"],
                        "EMAIL_USE_TLS": "false", "EMAIL_HOST_USER": "", "EMAIL_HOST_PASSWORD": ""})
        if "google" in self.fakes:
            g = self.fakes["google"].url
            env.update({"GOOGLE_API_BASE_URL": g, "GOOGLE_TOKEN_URL": g + "/token",
                        "GOOGLE_AUTHORIZE_URL": g + "/o/oauth2/v2/auth",
                        "GOOGLE_OAUTH_CLIENT_ID": "loopwise-demo-client",
                        "GOOGLE_OAUTH_CLIENT_SECRET": "loopwise-demo-client-secret"})
        if "microsoft" in self.fakes:
            m = self.fakes["microsoft"]
            env.update({"MICROSOFT_GRAPH_BASE_URL": m.url, "MICROSOFT_LOGIN_BASE_URL": m.extra["login_url"],
                        "MICROSOFT_CA_BUNDLE": m.extra["ca_path"],
                        "MICROSOFT_OAUTH_CLIENT_ID": "loopwise-demo-client",
                        "MICROSOFT_OAUTH_CLIENT_SECRET": "loopwise-demo-client-secret"})
        env.update(self._extra_env)
        return env

    def fake(self, name: str) -> FakeHandle:
        """The running fake `name`; KeyError names the fakes this stack runs."""
        try:
            return self.fakes[name]
        except KeyError:
            raise KeyError(f"no {name} fake in this stack (it runs {', '.join(self.fakes)})") from None

    def fake_url(self, name: str) -> str:
        return self.fake(name).url

    # ---- start-up pieces ---------------------------------------------------------------------------------------

    def _claim_redis(self) -> None:
        if self._redis_url_given:
            self._redis = redis_lib.Redis.from_url(self._redis_url_given)
            self._redis.flushdb()
            return
        for index in REDIS_INDEXES:
            client = redis_lib.Redis.from_url(f"{self._redis_server}/{index}")
            if client.eval(_CLAIM, 2, CLAIM_KEY, MARK_KEY, self._owner, CLAIM_SECONDS):
                self._redis, self.redis_url = client, f"{self._redis_server}/{index}"
                return
            client.close()
        raise StackError(f"no free Redis database index among {REDIS_INDEXES.start}-{REDIS_INDEXES.stop - 1}: "
                         "each is claimed by a running stack or holds someone else's keys")

    def _log(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    def _start_fake(self, name: str, *, timeout: float) -> None:
        proc = _Proc(f"fake-{name}", [PY, "-m", "integrations.fakes", name], env=self.env,
                     log=self._log(f"fake-{name}"), stdout_pipe=True)
        self._fake_procs[name] = proc
        lines: list[str] = []
        ready = threading.Event()
        wanted = 1 + len(EXTRA_LINES.get(name, ()))

        def drain() -> None:  # keep reading, so that a full pipe never blocks the fake; the log keeps it
            with open(proc.log, "a") as log:
                for line in proc.popen.stdout:  # type: ignore[union-attr]
                    line = line.decode(errors="replace") if isinstance(line, bytes) else line
                    if len(lines) < wanted:
                        lines.append(line.strip())
                        if len(lines) == wanted:
                            ready.set()
                    log.write(line)
                    log.flush()
            ready.set()

        threading.Thread(target=drain, daemon=True, name=f"stack-{name}-stdout").start()
        if not ready.wait(timeout) or len(lines) < wanted or " listening on " not in lines[0]:
            raise StackError(f"the {name} fake did not start: {lines!r}\n{proc.tail()}")
        extra: dict[str, str] = {}
        for line in lines[1:]:
            if line.startswith("mail smtp on "):
                extra["smtp_port"] = line.rsplit(":", 1)[1]
            elif line.startswith("microsoft login on "):
                extra["login_url"] = line.split(" on ", 1)[1]
            elif line.startswith("microsoft login ca "):
                extra["ca_path"] = line.split(" ca ", 1)[1]
        self.fakes[name] = FakeHandle(name, lines[0].split(" listening on ", 1)[1], extra=extra)

    def _start_web(self, *, timeout: float) -> None:
        gunicorn = str(Path(PY).parent / "gunicorn")
        for _attempt in range(3):  # the port was free a moment ago; another process may take it first
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            self.web = _Proc("web", [
                gunicorn, "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(self.web_workers),
                "--access-logfile", str(self._log("access")),
                "--access-logformat", '%(h)s "%(m)s %(U)s" %(s)s %(M)sms',
                "--logger-class", "candidates_portal.access_log.RedactingLogger", "--graceful-timeout", "5",
            ], env=self.env, log=self._log("web"))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.web.alive():
                if self._answers("/admin/login/"):
                    return
                time.sleep(0.1)
            if self.web.alive():
                raise StackTimeout(f"gunicorn did not answer within {timeout:.0f} s\n{self.web.tail()}")
            _stop_all([self.web], 1)
        raise StackError(f"gunicorn did not start\n{self.web.tail() if self.web else ''}")

    def _answers(self, path: str) -> bool:
        try:
            with _OPENER.open(self.url + path, timeout=5) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _start_worker(self, i: int) -> None:
        self.workers[i] = _Proc(f"worker-{i}", [PY, "manage.py", "qcluster"], env=self.env,
                                log=self._log(f"worker-{i}"), term_leader=True)

    def _cluster_keys(self) -> set[bytes]:
        assert self._redis is not None
        return set(self._redis.keys(f"django_q:{Q_NAME}:cluster:*"))

    def _wait_workers(self, *, timeout: float, known: set[bytes] = frozenset(), count: int | None = None) -> None:
        """Wait until `count` (default: all) clusters not in `known` report their status to Redis."""
        want = self.workers_wanted if count is None else count
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [p for p in self.workers if p is not None and not p.alive()]
            if dead:
                raise StackError(f"{dead[0].name} exited (code {dead[0].popen.returncode})\n{dead[0].tail()}")
            if len(self._cluster_keys() - known) >= want:
                return
            time.sleep(0.1)
        raise StackTimeout(f"{want} qcluster(s) did not start within {timeout:.0f} s\n"
                           + "\n".join(p.tail(10) for p in self.workers if p is not None))

    # ---- workers ----------------------------------------------------------------------------------------------

    def kill_worker(self, i: int) -> None:
        """SIGKILL qcluster process `i` and every process it forked (its group), at once, and reap it."""
        proc = self.workers[i]
        if proc is None:
            return
        proc.signal_group(signal.SIGKILL)
        try:
            proc.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 10
        while proc.group_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.close()
        self.workers[i] = None

    def restart_worker(self, i: int, *, timeout: float = 60) -> None:
        """Kill qcluster `i` (if it runs) and start it again; returns once the new one reports to Redis."""
        self.kill_worker(i)
        known = self._cluster_keys()
        self._start_worker(i)
        self._wait_workers(timeout=timeout, known=known, count=1)

    def worker_alive(self, i: int) -> bool:
        proc = self.workers[i]
        return proc is not None and proc.alive()

    # ---- commands in the stack's environment ------------------------------------------------------------------

    def manage(self, *args: str, timeout: float = 300) -> str:
        """Run `manage.py ARGS` in the stack's environment; its stdout. Raises StackError with its output when it
        fails."""
        done = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise StackError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def migrate(self) -> str:
        """What a deploy runs: `migrate` and `sync_schedules` (which declares the periodic tasks)."""
        return self.manage("migrate", "--no-input", "-v0") + self.manage("sync_schedules")

    def call(self, func: str, /, timeout: float = 300, **kwargs: Any) -> Any:
        """Call the function at dotted path `func` with JSON-able `kwargs` in a fresh interpreter with the
        stack's environment (Django set up), and return what it returned (JSON-able). The way to seed the stack's
        database: `stack.call("tests.e2e.scenario.seed", google_url=...)`."""
        done = subprocess.run([PY, "-m", "scheduling.devstack", "call", func, json.dumps(kwargs)], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        marker = "devstack-result: "
        result = [line for line in done.stdout.splitlines() if line.startswith(marker)]
        if done.returncode != 0 or not result:
            raise StackError(f"{func} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
        return json.loads(result[-1][len(marker):])

    # ---- the queue --------------------------------------------------------------------------------------------

    def enqueue(self, func: str, *args: Any, **kwargs: Any) -> str:
        """Put a task on the stack's queue as django-q2's `async_task` (and its scheduler) would; its task id."""
        from django.core.signing import TimestampSigner

        task_id = uuid.uuid4().hex
        task = {"id": task_id, "name": f"devstack-{task_id[:8]}", "func": func, "args": args, "kwargs": kwargs,
                "started": dt.datetime.now(dt.UTC), "ack_failure": True}
        signer = TimestampSigner(key=self.secret_key, salt=Q_NAME, fallback_keys=[])
        package = signer.sign_object(task, serializer=_Pickle, compress=True)
        assert self._redis is not None, "the stack is not started"
        self._redis.rpush(f"django_q:{Q_NAME}:q", package)
        return task_id

    def task_result(self, task_id: str) -> tuple[bool, Any] | None:
        """(success, result) of a finished task, or None while it has not finished."""
        rows = self.sql("SELECT success, result FROM django_q_task WHERE id = %s", (task_id,))
        if not rows:
            return None
        success, raw = rows[0]
        try:
            result = pickle.loads(base64.b64decode(raw)) if raw else None  # django-q2's PickledObjectField
        except (ValueError, pickle.UnpicklingError, EOFError):
            result = raw
        return bool(success), result

    def run_task(self, func: str, *args: Any, timeout: float = 60, **kwargs: Any) -> Any:
        """Run `func` through the queue, as the scheduler runs a due periodic task, and wait for it; its result.
        Raises StackError with the worker's error when it failed, StackTimeout when no worker finished it."""
        task_id = self.enqueue(func, *args, **kwargs)
        success, result = self.wait_until(lambda: self.task_result(task_id), timeout=timeout,
                                          message=f"the task {func} was not finished by a worker")
        if not success:
            raise StackError(f"the task {func} failed: {result}")
        return result

    def queue_length(self) -> int:
        assert self._redis is not None, "the stack is not started"
        return int(self._redis.llen(f"django_q:{Q_NAME}:q"))

    # ---- time -------------------------------------------------------------------------------------------------

    def set_clock(self, instant: dt.datetime) -> None:
        """Move the stack's time to `instant` (aware) for the web server and every worker; it flows on from there."""
        from scheduling.clock import set_clock

        set_clock(instant, path=self.clock_file)

    def clear_clock(self) -> None:
        """Back to the real time."""
        self.clock_file.unlink(missing_ok=True)

    def now(self) -> dt.datetime:
        """The stack's current instant (the clock file's, flowing; else the real time)."""
        try:
            text = self.clock_file.read_text().strip()
            written = self.clock_file.stat().st_mtime
        except FileNotFoundError:
            return real_now()
        if not text:
            return real_now()
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC) + dt.timedelta(seconds=max(0.0,
                                                                                          time.time() - written))

    # ---- reading state ----------------------------------------------------------------------------------------

    def sql(self, query: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple]:
        """Rows of `query` on the stack's database (autocommit: each call sees what is committed now)."""
        if self._db is None or self._db.closed:
            self._db = psycopg.connect(self.database_url, autocommit=True, connect_timeout=10)
        try:
            cur = self._db.execute(query, params)
        except psycopg.OperationalError:  # the server restarted (a fault test): reconnect once
            self._db = psycopg.connect(self.database_url, autocommit=True, connect_timeout=10)
            cur = self._db.execute(query, params)
        return cur.fetchall() if cur.description else []

    def wait_until(self, predicate: Callable[[], T], *, timeout: float = 30, interval: float = 0.1,
                   message: str = "") -> T:
        """Poll `predicate` until it returns something truthy, and return that; StackTimeout after `timeout`
        seconds (with `message` and the last value). The only real waiting the stack does: on the caller's side."""
        deadline = time.monotonic() + timeout
        value = predicate()
        while not value:
            if time.monotonic() >= deadline:
                raise StackTimeout(f"{message or 'the condition'}: not true within {timeout:g} s (last: {value!r})")
            time.sleep(interval)
            value = predicate()
        return value

    def wait_idle(self, *, timeout: float = 60) -> None:
        """Wait until the queue is empty and no outbox item or stored webhook is waiting to be handled now."""
        self.wait_until(lambda: self.queue_length() == 0 and not self.sql(
            "SELECT 1 FROM scheduling_outboxitem WHERE state = 'running' OR (state IN ('pending', 'failed') "
            "AND next_attempt_at <= %s) "
            "UNION ALL SELECT 1 FROM scheduling_inboundevent WHERE state IN ('pending', 'running') LIMIT 1",
            (self.now(),)), timeout=timeout, message="the stack did not go idle")

    # ---- between tests ----------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Empty the stack: every fake reset (state, faults, log), every table but the schema's own (migrations,
        content types, permissions, sites, schedules) truncated, Redis flushed, the clock back to real time. The
        processes keep running. Ids keep counting (no RESTART IDENTITY), so nothing cached by id is reused."""
        for fake in self.fakes.values():
            fake.reset()
        tables = [r[0] for r in self.sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND NOT (tablename = ANY(%s))",
            (list(KEEP_TABLES),))]
        if tables:
            quoted = ", ".join(f'"{t}"' for t in tables)
            self.sql("SET lock_timeout = '30s'")
            self.sql(f"TRUNCATE {quoted} CASCADE")
        assert self._redis is not None, "the stack is not started"
        if self._redis_url_given:
            self._redis.flushdb()
        else:
            self._redis.eval(_FLUSH, 2, CLAIM_KEY, MARK_KEY, self._owner, CLAIM_SECONDS)
        self.clear_clock()


# ---------------------------------------------------------------------------------------------------------------
# `python -m scheduling.devstack call DOTTED JSON`: Stack.call's other end.


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "call":
        print("usage: python -m scheduling.devstack call DOTTED.PATH '{\"kwarg\": ...}'", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.utils.module_loading import import_string

    result = import_string(args[1])(**json.loads(args[2]))
    print("devstack-result: " + json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
