"""Shared helpers for the admin tests: one instance of every registered model, and a form's own data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from uuid import uuid4

from django.db import models

from integrations.models import AtsPushToken, Health
from scheduling.models import ApiKey, OrganisationSettings, Role
from tests import factories as f


def _calendar_with_owner():
    calendar = f.CalendarFactory(health=Health.RED, last_error="invalid_grant", consecutive_failures=2)
    f.InterviewerFactory(calendar=calendar)
    return calendar


def _room_role():
    role = f.RoleFactory(kind=Role.Kind.ROOM, pool=None)
    role.rooms.add(f.RoomFactory(), f.RoomFactory())
    return role


def _request_with_history():
    request = f.SchedulingRequestFactory(coordinator=f.UserFactory())
    f.RequestTransitionFactory(request=request)
    f.SchedulingLinkFactory(request=request)
    return request


def _interview_with_sessions():
    interview = f.ScheduledInterviewFactory()
    session = f.InterviewSessionFactory(interview=interview, room=f.RoomFactory())
    f.SessionParticipantFactory(session=session)
    return interview


def _pool_with_members():
    pool = f.PoolFactory()
    f.MembershipFactory(pool=pool)
    f.MembershipFactory(pool=pool, training="shadow")
    return pool


def _plan_with_sessions():
    plan = f.PlanFactory(stage=None)
    f.RoleFactory(session=f.SessionTemplateFactory(plan=plan))
    return plan


# One maker per registered model of our apps: each call makes one more row, with the related rows
# its changelist shows, so that a query per row would show up in the query budget.
def _api_key() -> models.Model:
    from scheduling.api.auth import api_key_create

    return api_key_create(name=f"key-{ApiKey.objects.count() + 1}", scopes=["read"])[0]


def _push_token() -> models.Model:
    now = dt.datetime.now(dt.UTC)
    return AtsPushToken.objects.create(connection=f.AtsConnectionFactory(provider="icims"), token_hash=uuid4().hex * 2,
                                       issued_at=now, expires_at=now + dt.timedelta(minutes=15))


MAKERS: dict[str, Callable[[], models.Model]] = {
    "scheduling.user": f.UserFactory,
    "scheduling.organisationsettings": OrganisationSettings.load,
    "scheduling.interviewer": lambda: f.InterviewerFactory(calendar=f.CalendarFactory()),
    "scheduling.interviewerpool": _pool_with_members,
    "scheduling.poolmembership": f.MembershipFactory,
    "scheduling.room": lambda: f.RoomFactory(calendar=f.CalendarFactory(kind="room")),
    "scheduling.availabilityrule": f.AvailabilityRuleFactory,
    "scheduling.blackoutdate": f.BlackoutDateFactory,
    "scheduling.requisition": lambda: f.RequisitionFactory(ats_connection=f.AtsConnectionFactory(),
                                                           recruiter=f.UserFactory()),
    "scheduling.atsstage": f.StageFactory,
    "scheduling.interviewplan": _plan_with_sessions,
    "scheduling.sessiontemplate": lambda: f.RoleFactory().session,
    "scheduling.role": _room_role,
    "scheduling.candidate": lambda: f.ApplicationFactory().candidate,
    "scheduling.application": lambda: f.SchedulingRequestFactory().application,
    "scheduling.schedulingrequest": _request_with_history,
    "scheduling.requesttransition": f.RequestTransitionFactory,
    "scheduling.schedulinglink": f.SchedulingLinkFactory,
    "scheduling.proposedwindow": f.ProposedWindowFactory,
    "scheduling.scheduledinterview": _interview_with_sessions,
    "scheduling.interviewsession": lambda: f.SessionParticipantFactory().session,
    "scheduling.sessionparticipant": f.SessionParticipantFactory,
    "scheduling.freebusyblock": f.FreeBusyBlockFactory,
    "scheduling.remindersequence": lambda: f.ReminderStepFactory().sequence,
    "scheduling.reminderstep": f.ReminderStepFactory,
    "scheduling.notice": f.NoticeFactory,
    "scheduling.auditevent": f.AuditEventFactory,
    "scheduling.outboxitem": f.OutboxItemFactory,
    "scheduling.inboundevent": f.InboundEventFactory,
    "scheduling.remindersend": f.ReminderSendFactory,
    "scheduling.linkescalation": f.LinkEscalationFactory,
    "scheduling.trainingsession": f.TrainingSessionFactory,
    "integrations.atsconnection": lambda: f.AtsComponentHealthFactory(health=Health.RED).connection,
    "integrations.atscomponenthealth": f.AtsComponentHealthFactory,
    "integrations.calendarconnection": lambda: f.CalendarFactory(health=Health.DEGRADED).connection,
    "integrations.calendar": _calendar_with_owner,
    "integrations.webhooksubscription": lambda: f.WebhookDeliveryFactory().subscription,  # issue #10
    "integrations.webhookdelivery": f.WebhookDeliveryFactory,  # issue #10
    "scheduling.apikey": _api_key,  # issue #10
    "integrations.atspushtoken": _push_token,  # issue 9
}


def form_data(response) -> dict:
    """What the browser would post back for the change form in `response`, unchanged."""
    data: dict = {}

    def add(form) -> None:
        for name in form.fields:
            bound = form[name]
            value = bound.value()
            if value is None or value is False:
                continue
            if value is True:
                data[bound.html_name] = "on"
            elif isinstance(value, list | tuple):
                data[bound.html_name] = [str(v) for v in value]
            else:
                data[bound.html_name] = str(value)

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data
