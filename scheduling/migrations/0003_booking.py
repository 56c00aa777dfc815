import django.db.models.deletion
from django.db import migrations, models

from scheduling.migration_ops import PostgresOnlySQL

# Sessions and participants of interviews that are no longer live are not live either (rows written before this
# migration, e.g. by load_demo, only had the interview's state to say so).
RETIRE_SESSIONS = """
UPDATE scheduling_interviewsession SET active = false
WHERE interview_id IN (SELECT id FROM scheduling_scheduledinterview WHERE state <> 'active')
"""
RETIRE_PARTICIPANTS = """
UPDATE scheduling_sessionparticipant SET active = false
WHERE session_id IN (SELECT s.id FROM scheduling_interviewsession s
                     JOIN scheduling_scheduledinterview i ON i.id = s.interview_id WHERE i.state <> 'active')
"""

# The database itself refuses a double booking (issue #5). busy_end holds the session's end plus the person's
# buffer, so two live rows of one person may not overlap: the later session starts at least one buffer after
# the earlier one ends, which is the solver's rule. Rooms take no buffer.
PERSON_NO_OVERLAP = """
ALTER TABLE scheduling_sessionparticipant ADD CONSTRAINT scheduling_sessionparticipant_no_overlap
EXCLUDE USING gist (interviewer_id WITH =, tstzrange(busy_start, busy_end) WITH &&) WHERE (active)
"""
ROOM_NO_OVERLAP = """
ALTER TABLE scheduling_interviewsession ADD CONSTRAINT scheduling_interviewsession_room_no_overlap
EXCLUDE USING gist (room_id WITH =, tstzrange(start, "end") WITH &&) WHERE (active AND room_id IS NOT NULL)
"""


class Migration(migrations.Migration):
    """Booking (issue #5): the booked option on the interview, a live flag on sessions, the connection that holds
    interview events, and exclusion constraints (PostgreSQL) against overlapping people and rooms."""

    dependencies = [
        ("integrations", "0001_initial"),
        ("scheduling", "0002_btree_gist"),
    ]

    operations = [
        migrations.AddField(
            model_name="interviewsession",
            name="active",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="organisationsettings",
            name="scheduling_connection",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                to="integrations.calendarconnection",
                help_text="The connection whose organiser calendar holds interview events. Empty: the first active "
                          "connection that has an organiser calendar."),
        ),
        migrations.AddField(
            model_name="scheduledinterview",
            name="option",
            field=models.JSONField(blank=True, default=dict,
                                   help_text="The solver option booked, as offered (session and resource ids only)."),
        ),
        migrations.RunSQL(RETIRE_SESSIONS, reverse_sql=migrations.RunSQL.noop),
        migrations.RunSQL(RETIRE_PARTICIPANTS, reverse_sql=migrations.RunSQL.noop),
        PostgresOnlySQL(PERSON_NO_OVERLAP, reverse_sql="ALTER TABLE scheduling_sessionparticipant "
                                                       "DROP CONSTRAINT scheduling_sessionparticipant_no_overlap"),
        PostgresOnlySQL(ROOM_NO_OVERLAP, reverse_sql="ALTER TABLE scheduling_interviewsession "
                                                     "DROP CONSTRAINT scheduling_interviewsession_room_no_overlap"),
    ]
