"""What Loopwise writes back to each ATS, and what it does not: the write-back matrix (issue 9).

This is the one place that says it. `integrations.ats.writeback` reads it to decide which outbox items a booking,
a reschedule or a cancellation queues (a provider gets exactly the writes of its row) and to name them in its
results and errors; the admin shows it, per provider, on every ATS connection's page and on a page of its own
linked from the connections list; the write-back contract test (tests/integrations/ats/test_writeback_matrix.py)
books an interview for each provider and asserts that the provider's fake holds exactly its row, once, and that
the requests made are the ones each write names. Keyed by `AtsConnection.provider`.

Provider facts come from /work/shared/contracts/greenhouse-lever.md and icims-jobvite.md (the § numbers below point
there); where a contract marks something unverified ([?], [U]), the row says so in plain words, because the admin
shows it to the people who configure the connection.

Each provider gets two writes, served by the two outbox kinds (NOTE, MOVE): the schedule as text (a note, or the
provider's nearest equivalent), on booking, rescheduling and cancelling; and a move to the plan's next stage, on a
first booking, when the plan names one. Both are written at most once per outbox key (see writeback.py). The
`short` words of each write are the adapter's `write_back` (a test keeps the two equal).

`settings` are the keys of the connection's credentials that shape the write-back and are not secrets (a user id
writes are attributed to, a field id): the admin shows their values, and only theirs, since the credentials are
otherwise write-only.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NOTE", "MOVE", "KINDS", "Write", "Setting", "Row", "MATRIX", "row_for", "write_for"]

NOTE = "ats.add_note"    # the outbox kind that writes the schedule's text
MOVE = "ats.move_stage"  # the outbox kind that moves the application to the plan's next stage
KINDS = (NOTE, MOVE)

_TEXT_ON = ("booked", "rescheduled", "cancelled")
_MOVE_ON = ("booked",)
_TEXT_WHEN = "When an interview is booked, rescheduled or cancelled: one entry each time, never edited."
_MOVE_WHEN = ("On the first booking, when the interview plan names a next stage (its stage mapping); never on "
              "a reschedule or a cancellation.")


@dataclass(frozen=True, slots=True)
class Write:
    """One thing Loopwise writes to the ATS."""

    kind: str                 # the outbox kind that performs it: NOTE or MOVE
    short: str                # a word or two: "note", "stage move" (the adapter's `write_back`)
    what: str                 # a sentence for the admin
    request: str              # the HTTP request(s) it makes: "METHOD /path/{placeholder}", " then " between steps
    once: str                 # how a retry, a timeout or a new worker never writes it twice
    on: tuple[str, ...]       # the write-back events that queue it (writeback.WHATS)
    when: str                 # `on`, in words
    settings: tuple[str, ...] = ()  # the credentials keys (Row.settings) that shape it

    @property
    def writes_made(self) -> tuple[tuple[str, str], ...]:
        """(method, path template without the query) of each request in `request` that changes something in
        the ATS: a POST, PUT, PATCH or DELETE. A first write makes each of them once; a retry, none."""
        steps = (step.strip().split(" ", 1) for step in self.request.split(" then "))
        return tuple((method, path.split("?", 1)[0]) for method, path in steps
                     if method in ("POST", "PUT", "PATCH", "DELETE"))


@dataclass(frozen=True, slots=True)
class Setting:
    """A non-secret credentials key that shapes the write-back, shown with its value in the admin."""

    key: str
    label: str
    required: bool = False    # write-back cannot work without it
    default: str = ""         # what applies when it is not set


@dataclass(frozen=True, slots=True)
class Row:
    """One provider's row: what is written, what is not, and what configures it."""

    provider: str             # AtsConnection.provider
    name: str
    writes: tuple[Write, ...]
    not_done: tuple[str, ...]
    settings: tuple[Setting, ...] = ()
    source: str = ""          # where the provider facts come from

    def write(self, kind: str) -> Write | None:
        return next((w for w in self.writes if w.kind == kind), None)

    def kinds_on(self, what: str) -> tuple[str, ...]:
        """The outbox kinds a write-back event (`booked`, `rescheduled`, `cancelled`) queues for this provider."""
        return tuple(w.kind for w in self.writes if what in w.on)

    @property
    def summary(self) -> str:
        return " and ".join(w.short for w in self.writes)


MATRIX: dict[str, Row] = {
    "greenhouse": Row(
        provider="greenhouse", name="Greenhouse", source="contracts/greenhouse-lever.md §1.2 (Harvest v3)",
        writes=(
            Write(kind=NOTE, short="note", on=_TEXT_ON, when=_TEXT_WHEN, settings=("on_behalf_of",),
                  what="A note on the application with the schedule (sessions, times, interviewers, room, video "
                       "link), visible to the hiring team (visibility public), written as the acting user.",
                  request="GET /v3/applications?ids={application} then GET /v3/notes?application_ids={application} "
                          "then POST /v3/notes",
                  once="The note ends with a [loopwise:<key>] line; the application's notes are read before every "
                       "try and an existing one is kept."),
            Write(kind=MOVE, short="stage move", on=_MOVE_ON, when=_MOVE_WHEN,
                  what="The application is moved from the plan's stage to the plan's next stage "
                       "(from_stage_id and to_stage_id). Greenhouse then runs the job's own stage rules, "
                       "automated emails included.",
                  request="GET /v3/applications?ids={application} then POST /v3/applications/{application}/move",
                  once="The application is read before every try; Greenhouse refuses a move whose from_stage_id "
                       "is no longer the current stage. Moved elsewhere meanwhile: Loopwise gives up and says so."),
        ),
        not_done=(
            "No scorecards, and no scheduled interviews in Greenhouse's interview plan: the schedule is in the note.",
            "Notes are never edited or deleted (Greenhouse has no DELETE): a reschedule or a cancellation adds a "
            "new note.",
            "No rejection, hire or transfer to another job; no change to the candidate's profile.",
        ),
        settings=(Setting("on_behalf_of", "Acting Greenhouse user id (notes are written as this user)",
                          required=True),),
    ),
    "lever": Row(
        provider="lever", name="Lever", source="contracts/greenhouse-lever.md §2.2 (Data API v1)",
        writes=(
            Write(kind=NOTE, short="note", on=_TEXT_ON, when=_TEXT_WHEN, settings=("perform_as",),
                  what="A note on the opportunity with the schedule, not secret (everyone who can see the "
                       "opportunity sees it), attributed to the perform_as user.",
                  request="GET /v1/opportunities/{application}/notes then "
                          "POST /v1/opportunities/{application}/notes?perform_as={perform_as}",
                  once="The note ends with a [loopwise:<key>] line; the opportunity's notes are read before every "
                       "try and an existing one is kept."),
            Write(kind=MOVE, short="stage", on=_MOVE_ON, when=_MOVE_WHEN, settings=("perform_as",),
                  what="The opportunity's stage is set to the plan's next stage. Lever has no \"advance\": the "
                       "plan's mapping names the stage.",
                  request="GET /v1/opportunities/{application} then "
                          "PUT /v1/opportunities/{application}/stage?perform_as={perform_as}",
                  once="The opportunity is read before every try: already there, nothing is written; in another "
                       "stage, Loopwise gives up and says so. Lever has no guard of its own, so a move made by "
                       "someone between that read and the write cannot be seen."),
        ),
        not_done=(
            "No interviews, panels or feedback forms in Lever: the schedule is in the note.",
            "Notes are never edited (Lever notes cannot be): a reschedule or a cancellation adds a new note.",
            "No archiving (rejection or hire), no tags, no change to the contact.",
        ),
        settings=(Setting("perform_as", "Lever user the note and the stage change are attributed to (needed with "
                                        "an API key)"),),
    ),
    "icims": Row(
        provider="icims", name="iCIMS", source="contracts/icims-jobvite.md §1.7 (Workflows API)",
        writes=(
            Write(kind=NOTE, short="configured field", on=_TEXT_ON, when=_TEXT_WHEN,
                  settings=("note_field", "note_mode"),
                  what="iCIMS has no notes API: the schedule goes into the recruiting workflow's configured field, "
                       "after what it already holds (or in its place, with note_mode \"replace\").",
                  request="GET /customers/{customer}/applicantworkflows/{application}?fields={note_field} then "
                          "PATCH /customers/{customer}/applicantworkflows/{application} then "
                          "GET /customers/{customer}/applicantworkflows/{application}?fields={note_field}",
                  once="Read, modify, write: the text ends with a [loopwise:<key>] line, looked for before every "
                       "try and read back after writing (a field the API user cannot see stops the write-back "
                       "rather than writing again)."),
            Write(kind=MOVE, short="status", on=_MOVE_ON, when=_MOVE_WHEN,
                  what="The recruiting workflow's status is set to the plan's next stage (a status id) with "
                       "PATCH {\"status\": {\"id\": ...}}.",
                  request="GET /customers/{customer}/applicantworkflows/{application} then "
                          "PATCH /customers/{customer}/applicantworkflows/{application}",
                  once="The workflow is read before every try: already there, nothing is written; in another "
                       "status, Loopwise gives up and says so. A status that needs a field Loopwise does not fill "
                       "(FIELD_REQUIRED) stops with the field's name."),
        ),
        not_done=(
            "Nothing on the Notes tab of the person or the workflow: iCIMS has no API for it.",
            "No change to the person's profile, no assessment results, no new recruiting workflow.",
            "Each write uses the daily API quota (a read, the write, and a read-back for the field).",
        ),
        settings=(Setting("note_field", "Workflow field that receives the schedule", required=True),
                  Setting("note_mode", "Field write mode (append keeps earlier text)", default="append")),
    ),
    "jobvite": Row(
        provider="jobvite", name="Jobvite", source="contracts/icims-jobvite.md §2.5 (API v2)",
        writes=(
            Write(kind=NOTE, short="appended comment", on=_TEXT_ON, when=_TEXT_WHEN,
                  what="Jobvite has no notes API: the schedule is appended to the application's comments. Jobvite "
                       "replaces the field on each update, so Loopwise reads the comments, writes them back with "
                       "the entry added, and reads them again: earlier comments are kept.",
                  request="GET /api/v2/candidate?applicationId={application} then PUT /api/v2/candidate then "
                          "GET /api/v2/candidate?applicationId={application}",
                  once="The entry ends with a [loopwise:<key>] line, looked for before every try. A comment "
                       "someone adds in Jobvite between Loopwise's read and its write cannot be seen (Jobvite has "
                       "no compare-and-set); one written after it without the entry is followed by the entry again."),
            Write(kind=MOVE, short="workflow state", on=_MOVE_ON, when=_MOVE_WHEN,
                  what="The application's workflow state is set to the plan's next stage (a state name, as Jobvite "
                       "names it).",
                  request="GET /api/v2/candidate?applicationId={application} then PUT /api/v2/candidate",
                  once="The application is read before every try: already there, nothing is written; in another "
                       "state, Loopwise gives up and says so. A state Jobvite refuses (renamed or removed) stops "
                       "with its name."),
        ),
        not_done=(
            "No notes and no interview events in Jobvite: the schedule is in the comments.",
            "Jobvite's update body is not public (its v2 guide is gated): the comments and the workflow state are "
            "written as far as the API is known to allow, and a write Jobvite accepts without applying stops the "
            "write-back rather than repeating it.",
            "No disposition (rejection), hire or offer letter; no change to the candidate's profile.",
        ),
    ),
}


def row_for(provider: str) -> Row | None:
    """The matrix row of an `AtsConnection.provider`, or None for a provider Loopwise does not know."""
    return MATRIX.get(provider)


def write_for(provider: str, kind: str) -> Write | None:
    """What the outbox kind `kind` writes to `provider`, or None when that provider gets no such write."""
    row = MATRIX.get(provider)
    return row.write(kind) if row else None
