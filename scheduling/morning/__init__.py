"""A large company's morning on one machine, for `manage.py bench_morning` (issue 11, "Scale").

`world` seeds the organisation (the database, through the ORM in the stack's own environment, and the Google and
Greenhouse fakes over their control surface); `load` moves candidates through the Greenhouse fake's signed
webhooks and books through the portal as browsers would; `faults` stages what goes wrong during the run (a
killed worker, a restarted private PostgreSQL, a provider answering 5xx and 429, a replayed webhook, a calendar
write that times out after it was applied); `measure` samples CPU and the queue while it runs and reads the
figures and the counts that must be zero from the database and the fakes afterwards.
"""
