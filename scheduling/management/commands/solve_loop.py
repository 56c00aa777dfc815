"""`manage.py solve_loop PROBLEM.json` (or `-` for stdin): prints the solver's result as JSON.

Bad input never gives a traceback: one line `error: <field>: <what is wrong>` on stderr and exit status 2.
The field is the problem's field path, or the file name (`-` for stdin) when the file cannot be read or is
not JSON.
"""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from scheduling.engine import ProblemError, solve


class Command(BaseCommand):
    help = "Solve one interview-loop problem (the engine contract's JSON) and print every option as JSON."

    def add_arguments(self, parser):
        parser.add_argument("problem", metavar="PROBLEM.json", help="the problem file, or - to read stdin")

    def handle(self, *args, problem: str, **options):
        try:
            raw = self._read(problem)
            result = solve(raw)
        except ProblemError as e:
            self._fail(e.field, e.message)
        self.stdout.write(json.dumps(result))

    def _read(self, name: str) -> object:
        try:
            if name == "-":
                text = sys.stdin.read()
            else:
                with open(name, encoding="utf-8") as f:
                    text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            self._fail(name, f"cannot read it ({getattr(e, 'strerror', None) or e.__class__.__name__})")
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            self._fail(name, f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})")
        except RecursionError:
            self._fail(name, "JSON nested too deeply")

    def _fail(self, field: str, message: str) -> None:
        one_line = f"error: {field}: {message}".replace("\n", " ")
        self.stderr.write(one_line, style_func=lambda s: s)
        sys.exit(2)
