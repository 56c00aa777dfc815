import io

import pytest
from croniter import croniter
from django.core.management import call_command
from django.utils.module_loading import import_string
from django_q.models import Schedule

from scheduling.schedules import PREFIX, SCHEDULES, sync_schedules

pytestmark = pytest.mark.django_db


def rows():
    return sorted(Schedule.objects.values_list("pk", "name", "func", "schedule_type", "cron", "repeats"))


def test_it_declares_schedules_whose_tasks_import_and_whose_crons_parse():
    assert len({name for name, *_ in SCHEDULES}) == len(SCHEDULES)
    for _name, func, cron, comment in SCHEDULES:
        assert callable(import_string(func)), func
        assert croniter.is_valid(cron), cron
        assert comment


def test_it_creates_the_schedules_and_changes_nothing_the_second_time():
    out = io.StringIO()
    call_command("sync_schedules", stdout=out)
    assert out.getvalue().count("created loopwise:") == len(SCHEDULES)
    first = rows()
    assert sorted((name, func, cron) for _pk, name, func, _t, cron, _r in first) == sorted(
        (PREFIX + name, func, cron) for name, func, cron, _ in SCHEDULES)
    assert all(t == Schedule.CRON and r == -1 for *_, t, _c, r in first)

    assert sync_schedules() == [f"unchanged {PREFIX}{name}" for name, *_ in SCHEDULES]
    assert rows() == first


def test_it_updates_a_changed_schedule_and_removes_only_stale_loopwise_ones():
    sync_schedules()
    name, func, _cron, _ = SCHEDULES[0]
    Schedule.objects.filter(name=PREFIX + name).update(cron="0 0 1 1 *")
    Schedule.objects.create(name=PREFIX + "retired", func="scheduling.tasks.sweep_work",
                            schedule_type=Schedule.MINUTES, minutes=5)
    Schedule.objects.create(name="someone-else", func="math.floor", schedule_type=Schedule.MINUTES, minutes=5)

    report = sync_schedules()

    assert f"updated {PREFIX}{name}: {func} at '{SCHEDULES[0][2]}'" in report
    assert f"deleted {PREFIX}retired" in report
    assert Schedule.objects.get(name=PREFIX + name).cron == SCHEDULES[0][2]
    assert not Schedule.objects.filter(name=PREFIX + "retired").exists()
    assert Schedule.objects.filter(name="someone-else").exists()
