"""`manage.py bench_api`: what the HTTP door costs. Times `POST /api/v1/solve` for the solver's standard workload
(scheduling/engine/bench.py) through gunicorn on loopback, beside the in-process `solve()` of the same problems in
the same run, and prints the difference (parsing, auth, throttling, serialising, the socket).

Runs gunicorn as a subprocess on a dedicated database (`<name>_bench_api` beside DATABASE_URL's PostgreSQL one,
or a temporary SQLite file), migrated and given a read key for the run, and dropped afterwards.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import environ
from django.conf import settings
from django.core.management.base import BaseCommand

from scheduling.benchtools import free_port, percentile, wait_for_port
from scheduling.engine import solve
from scheduling.engine.bench import make_problem


class Command(BaseCommand):
    help = "Benchmark POST /api/v1/solve through gunicorn on loopback against in-process solve()."

    def add_arguments(self, parser):
        parser.add_argument("--problems", type=int, default=5, help="distinct standard problems (seeds)")
        parser.add_argument("--rounds", type=int, default=6, help="rounds over the problems, sequentially")
        parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (and concurrent clients)")

    def handle(self, *args, problems: int, rounds: int, workers: int, **options):
        bodies = [json.dumps(make_problem(seed)).encode() for seed in range(1, problems + 1)]
        with self._database() as db_url:
            env = {**os.environ, "DATABASE_URL": db_url, "API_RATE_PER_MINUTE": str(10**9), "DEBUG": "false",
                   "LOOPWISE_ENV": "development", "ALLOWED_HOSTS": "127.0.0.1"}
            manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
            subprocess.run([*manage, "migrate", "--no-input", "-v0"], env=env, check=True)
            subprocess.run([*manage, "createcachetable"], env=env, check=True)
            key = subprocess.run([*manage, "create_api_key", f"bench-{os.getpid()}", "--scopes", "read"], env=env,
                                 check=True, capture_output=True, text=True).stdout.strip()
            port = free_port()
            server = subprocess.Popen(
                [str(Path(sys.executable).with_name("gunicorn")), "config.wsgi", "-b", f"127.0.0.1:{port}",
                 "-w", str(workers), "--log-level", "warning"], env=env, cwd=settings.BASE_DIR)
            try:
                wait_for_port(port, seconds=30)
                self._run(bodies, port, key, rounds, workers)
            finally:
                server.terminate()
                server.wait(timeout=30)

    def _run(self, bodies: list[bytes], port: int, key: str, rounds: int, workers: int) -> None:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

        def post(body: bytes, c: http.client.HTTPConnection = conn) -> float:
            t = time.perf_counter()
            c.request("POST", "/api/v1/solve", body=body, headers=headers)
            response = c.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"solve answered {response.status}: {data[:300]!r}")
            return time.perf_counter() - t

        for body in bodies:  # warm up: imports, connections, caches
            post(body)
            solve(json.loads(body))
        http_t, solve_t = [], []
        for _ in range(rounds):
            for body in bodies:
                http_t.append(post(body))
                problem = json.loads(body)
                t = time.perf_counter()
                solve(problem)
                solve_t.append(time.perf_counter() - t)
        conn.close()

        def client(n: int) -> int:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            for i in range(n):
                post(bodies[i % len(bodies)], c)
            c.close()
            return n

        per_client = max(2, rounds * len(bodies) // workers)
        t = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            done = sum(pool.map(client, [per_client] * workers))
        rps = done / (time.perf_counter() - t)
        h50, h95 = statistics.median(http_t), percentile(http_t, 95)
        s50, s95 = statistics.median(solve_t), percentile(solve_t, 95)
        size = statistics.median(len(b) for b in bodies) / 1024
        self.stdout.write(f"standard workload: {len(bodies)} problems x {rounds} rounds, body ~{size:.0f} KiB, "
                          f"gunicorn {workers} workers on loopback")
        self.stdout.write(f"POST /api/v1/solve  p50 {h50 * 1e3:8.1f} ms  p95 {h95 * 1e3:8.1f} ms  "
                          f"{rps:6.1f} req/s ({workers} concurrent clients)")
        self.stdout.write(f"in-process solve()  p50 {s50 * 1e3:8.1f} ms  p95 {s95 * 1e3:8.1f} ms")
        self.stdout.write(f"HTTP door overhead  p50 {(h50 - s50) * 1e3:8.1f} ms  "
                          f"({(h50 - s50) / s50 * 100:5.1f}% of the solve time)")

    class _database:
        """A dedicated database for the run: `<name>_bench_api` on the same PostgreSQL server, or a temporary
        SQLite file; dropped afterwards."""

        def __enter__(self) -> str:
            url = settings.DATABASES["default"]
            if url["ENGINE"].endswith("sqlite3"):
                self.tmp = tempfile.TemporaryDirectory()
                self.drop = None
                return f"sqlite:///{self.tmp.name}/bench.sqlite3"
            import psycopg

            self.tmp = None
            self.name = f"{url['NAME']}_bench_api"
            self.admin = dict(host=url.get("HOST") or None, port=url.get("PORT") or None, user=url.get("USER"),
                              password=url.get("PASSWORD") or None, dbname="postgres", autocommit=True)
            with psycopg.connect(**self.admin) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
                conn.execute(f'CREATE DATABASE "{self.name}"')
            base = environ.Env.db_url_config(os.environ.get("DATABASE_URL", ""))
            return (f"postgres://{base.get('USER', '')}{':' + base['PASSWORD'] if base.get('PASSWORD') else ''}"
                    f"@{base.get('HOST') or '127.0.0.1'}:{base.get('PORT') or 5432}/{self.name}")

        def __exit__(self, *exc) -> None:
            if self.tmp is not None:
                self.tmp.cleanup()
                return
            import psycopg

            with psycopg.connect(**self.admin) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
