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
from pathlib import Path

from honcho.manager import Manager

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
WEB_PORT = int(os.environ.get("LOOPWISE_PORT", "8000"))
MAIL_PORT = int(os.environ.get("LOOPWISE_MAIL_PORT", "8025"))
SMTP_PORT = int(os.environ.get("LOOPWISE_SMTP_PORT", "2525"))
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

    manage("migrate", "--no-input", "-v0", env=env)
    manage("createcachetable", env=env)
    manage("sync_schedules", env=env)
    manage("load_demo", "--history-days", os.environ.get("LOOPWISE_DEMO_HISTORY_DAYS", "30"), env=env)

    bin_dir = Path(PY).parent
    manager = Manager()
    manager.add_process("web", f"{bin_dir / 'gunicorn'} config.wsgi --bind 127.0.0.1:{WEB_PORT} --workers 2 "
                               f"--access-logfile - --access-logformat '%(h)s \"%(m)s %(U)s\" %(s)s %(M)sms'",
                        cwd=str(ROOT), env=env)
    manager.add_process("worker", f"{PY} manage.py qcluster", cwd=str(ROOT), env=env)
    manager.add_process("mail", f"{PY} -m integrations.fakes mail --port {MAIL_PORT} --smtp-port {SMTP_PORT}",
                        cwd=str(ROOT), env=env)
    print(f"""
Loopwise is starting ({database}, tasks through {broker}).

  Admin:      http://127.0.0.1:{WEB_PORT}/admin/
  Sign in:    demo / loopwise-demo
  Mail fake:  http://127.0.0.1:{MAIL_PORT}/   (every email Loopwise sends lands here)

Press Ctrl-C to stop everything.
""", flush=True)
    manager.loop()
    return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
