"""`make run`: set Loopwise up and run it on this machine, with every provider fake.

Uses PostgreSQL and Redis when they answer at their usual local addresses (127.0.0.1:5432 with
user postgres, 127.0.0.1:6379), and the embedded SQLite file and the ORM broker otherwise.
Migrates, declares the periodic tasks, loads the demo organisation, then runs the web server
(gunicorn), one qcluster worker and the fakes together under honcho, and prints where to go.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from honcho.manager import Manager

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
WEB_PORT = int(os.environ.get("LOOPWISE_PORT", "8000"))
MAIL_PORT = int(os.environ.get("LOOPWISE_MAIL_PORT", "8025"))
SMTP_PORT = int(os.environ.get("LOOPWISE_SMTP_PORT", "2525"))
GOOGLE_PORT = int(os.environ.get("LOOPWISE_GOOGLE_PORT", "8031"))
GREENHOUSE_PORT = int(os.environ.get("LOOPWISE_GREENHOUSE_PORT", "8032"))
PG_URL = "postgres://postgres@127.0.0.1:5432/loopwise"


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def ensure_pg_database() -> bool:
    """Create the `loopwise` database when PostgreSQL answers; False when it cannot be used."""
    import psycopg

    try:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True,
                             connect_timeout=3) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'loopwise'").fetchone():
                conn.execute("CREATE DATABASE loopwise")
        return True
    except psycopg.Error as e:
        print(f"PostgreSQL answers but cannot be used ({e}); using SQLite instead.")
        return False


def start_fake(name: str, *args: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Start one provider fake in its own process; returns it and the URL from its first line."""
    proc = subprocess.Popen([PY, "-m", "integrations.fakes", name, *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if " listening on " not in line:
        proc.kill()
        raise SystemExit(f"the {name} fake did not start: {line!r}")
    # Keep reading what the fake prints, so a full pipe never blocks it.
    threading.Thread(target=lambda: [print(f"{name:>6} | {x}", end="") for x in proc.stdout], daemon=True).start()
    return proc, line.split(" listening on ")[1]


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True)


def main() -> int:
    env = dict(os.environ)
    if "DATABASE_URL" not in env and answers(5432) and ensure_pg_database():
        env["DATABASE_URL"] = PG_URL
    if "REDIS_URL" not in env and answers(6379):
        env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    env.setdefault("EMAIL_HOST", "127.0.0.1")
    env.setdefault("EMAIL_PORT", str(SMTP_PORT))
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{WEB_PORT}")
    env["PYTHONUNBUFFERED"] = "1"
    database = "PostgreSQL" if env.get("DATABASE_URL", "").startswith("postgres") else "SQLite (embedded)"
    broker = "Redis" if env.get("REDIS_URL") else "the database (ORM broker)"

    fakes = []
    try:
        mail, mail_url = start_fake("mail", "--port", str(MAIL_PORT), "--smtp-port", str(SMTP_PORT), env=env)
        fakes.append(mail)
        google, google_url = start_fake("google", "--port", str(GOOGLE_PORT), env=env)
        fakes.append(google)
        # Its webhook URL holds the demo connection's key, which exists only after load_demo: seed_demo_fakes
        # sets it (and the secret) through the fake's control API.
        greenhouse, greenhouse_url = start_fake("greenhouse", "--port", str(GREENHOUSE_PORT), env=env)
        fakes.append(greenhouse)
        env.update({"GOOGLE_API_BASE_URL": google_url, "GOOGLE_TOKEN_URL": google_url + "/token",
                    "GOOGLE_AUTHORIZE_URL": google_url + "/o/oauth2/v2/auth",
                    "GOOGLE_OAUTH_CLIENT_ID": "loopwise-demo-client",
                    "GOOGLE_OAUTH_CLIENT_SECRET": "loopwise-demo-client-secret"})

        manage("migrate", "--no-input", "-v0", env=env)
        manage("createcachetable", env=env)
        manage("sync_schedules", env=env)
        manage("load_demo", "--history-days", os.environ.get("LOOPWISE_DEMO_HISTORY_DAYS", "30"), env=env)
        manage("seed_demo_fakes", "--google", google_url, "--greenhouse", greenhouse_url, env=env)
        manage("refresh_freebusy", "--all", env=env)

        bin_dir = Path(PY).parent
        manager = Manager()
        manager.add_process("web", f"{bin_dir / 'gunicorn'} config.wsgi --bind 127.0.0.1:{WEB_PORT} --workers 2 "
                                   f"--access-logfile - --access-logformat '%(h)s \"%(m)s %(U)s\" %(s)s %(M)sms' "
                                   # The first portal request's path holds the token: masked in the log.
                                   "--logger-class candidates_portal.access_log.RedactingLogger",
                            cwd=str(ROOT), env=env)
        manager.add_process("worker", f"{PY} manage.py qcluster", cwd=str(ROOT), env=env)
        db_env = f"DATABASE_URL={env['DATABASE_URL']} " if env.get("DATABASE_URL") else ""
        stage_change = f"{db_env}{PY} manage.py ats_stage_change 91200115 Onsite"
        print(f"""
Loopwise is starting ({database}, tasks through {broker}).

  Admin:        http://127.0.0.1:{WEB_PORT}/admin/
  Sign in:      demo / loopwise-demo
  Mail fake:    {mail_url}/   (every email Loopwise sends lands here)
  Google fake:  {google_url}/_fake/state   (the demo's calendars, events and Meet links)
  Greenhouse:   {greenhouse_url}/_fake/board   (move a candidate, e.g. Ravi Shankar Iyer to "Onsite": Greenhouse
                sends Loopwise a signed webhook and a scheduling request with options appears within seconds;
                or: {stage_change})

Press Ctrl-C to stop everything.
""", flush=True)
        manager.loop()
        return manager.returncode or 0
    finally:
        for proc in fakes:
            proc.terminate()
        for proc in fakes:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
