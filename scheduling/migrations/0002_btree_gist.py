from django.db import migrations

from scheduling.migration_ops import PostgresOnlySQL


class Migration(migrations.Migration):
    """btree_gist lets exclusion constraints mix equality (a person) with range overlap (their time)."""

    dependencies = [("scheduling", "0001_initial")]

    operations = [
        PostgresOnlySQL("CREATE EXTENSION IF NOT EXISTS btree_gist", reverse_sql=migrations.RunSQL.noop),
    ]
