"""Loopback fakes of every external service Loopwise talks to, so that the real client libraries (google-api-python-
client, msal with requests, requests for the ATSs, smtplib) run unchanged against local servers: see
/work/shared/fakes.md. Each fake is stateful, answers the provider's documented paths and error shapes, and adds the
`/_fake/` control surface (state, reset, seed, faults, requests, stage_change) from `base.FakeServer`. Its module
docstring lists every departure from the real service.

Run one in the foreground with `python -m integrations.fakes NAME [--port P] [--webhook-url URL]`, or in-process
with `FakeClass.start(port=0)`; `load(name)` finds the class.
"""

from __future__ import annotations

from importlib import import_module

FAKES = {  # name -> dotted path of the fake's class, imported on first use
    "mail": "integrations.fakes.mail.MailFake",
    "google": "integrations.fakes.google.GoogleFake",
    "greenhouse": "integrations.fakes.greenhouse.GreenhouseFake",
    "microsoft": "integrations.fakes.microsoft.MicrosoftFake",
    "icims": "integrations.fakes.icims.IcimsFake",
    "lever": "integrations.fakes.lever.LeverFake",
    "jobvite": "integrations.fakes.jobvite.JobviteFake",
}


def load(name: str) -> type:
    """The fake class registered as `name`; KeyError for an unknown name."""
    module, _, cls = FAKES[name].rpartition(".")
    return getattr(import_module(module), cls)
