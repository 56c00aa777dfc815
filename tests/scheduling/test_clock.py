"""One clock for every process (a clock file moves time for the web server and workers too) and one sleeper,
capped by a setting, that tests swap so nothing sleeps for real."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from scheduling import clock

T = dt.datetime(2027, 3, 28, 0, 59, tzinfo=dt.UTC)


def test_it_reads_the_clock_file_and_lets_time_flow_from_there(tmp_path, settings):
    settings.LOOPWISE_CLOCK_FILE = str(tmp_path / "clock")
    clock.set_clock(T)
    got = clock.now()
    assert T <= got < T + dt.timedelta(seconds=5) and got.tzinfo is not None


def test_another_process_sees_the_moved_clock(tmp_path, settings):
    path = tmp_path / "clock"
    settings.LOOPWISE_CLOCK_FILE = str(path)
    clock.set_clock(T)
    env = {**os.environ, "LOOPWISE_CLOCK_FILE": str(path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run([sys.executable, "-c", "import django; django.setup(); from scheduling import clock; "
                          "print(clock.now().isoformat())"], env=env, capture_output=True, text=True, check=True)
    seen = dt.datetime.fromisoformat(out.stdout.strip())
    assert T <= seen < T + dt.timedelta(seconds=30)


def test_it_uses_the_real_clock_without_a_file(settings):
    settings.LOOPWISE_CLOCK_FILE = ""
    assert abs((clock.now() - dt.datetime.now(dt.UTC)).total_seconds()) < 5


def test_a_naive_instant_in_the_clock_file_is_refused(tmp_path, settings):
    path = tmp_path / "clock"
    path.write_text("2027-03-28T00:59:00")
    settings.LOOPWISE_CLOCK_FILE = str(path)
    with pytest.raises(ValueError, match="aware"):
        clock.now()


def test_the_sleeper_is_capped_and_swappable(settings):
    settings.LOOPWISE_MAX_SLEEP_SECONDS = 0.5
    waits: list[float] = []
    with clock.use_sleeper(waits.append):
        assert clock.sleep(30) == 0.5
        assert clock.sleep(-1) == 0.0
    assert waits == [0.5, 0.0]


def test_production_refuses_to_start_on_development_defaults():
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS")}
    env.update(LOOPWISE_ENV="production", ALLOWED_HOSTS="loopwise.example.com",
               DATABASE_URL="postgres://postgres@127.0.0.1:5432/loopwise", DJANGO_SETTINGS_MODULE="config.settings")
    out = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                         text=True)
    assert out.returncode != 0 and "SECRET_KEY" in out.stderr
    env["SECRET_KEY"] = "x" * 64
    out = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                         text=True)
    assert out.returncode != 0 and "FIELD_ENCRYPTION_KEYS" in out.stderr
