"""factory_boy factories with realistic defaults (style.md section 9)."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone

from integrations.models import AtsConnection, Calendar, CalendarConnection
from scheduling import models as m


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"coordinator{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    first_name = "Casey"
    last_name = "Coordinator"
    timezone = "Europe/London"
    is_staff = True
    is_superuser = True
    password = factory.django.Password("correct-horse-battery")


class AtsConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AtsConnection

    name = factory.Sequence(lambda n: f"Greenhouse {n}")
    provider = AtsConnection.Provider.GREENHOUSE
    credentials = factory.LazyFunction(lambda: {"client_id": "gh-client", "client_secret": "gh-secret-value-123"})
    fallback_email = "recruiting-ops@example.com"


class CalendarConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CalendarConnection

    name = factory.Sequence(lambda n: f"Google Workspace {n}")
    provider = CalendarConnection.Provider.GOOGLE
    auth_mode = CalendarConnection.AuthMode.SERVICE_ACCOUNT
    credentials = factory.LazyFunction(lambda: {"private_key": "-----BEGIN PRIVATE KEY-----\nMIIEv...\n"})
    organiser_calendar = "interviews@example.com"


class CalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Calendar

    connection = factory.SubFactory(CalendarConnectionFactory)
    external_id = factory.Sequence(lambda n: f"person{n}@example.com")


class InterviewerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Interviewer

    name = factory.Sequence(lambda n: f"Interviewer {n}")
    email = factory.Sequence(lambda n: f"interviewer{n}@example.com")
    title = "Senior Engineer"
    timezone = "Europe/London"
    max_per_day = 2
    max_per_week = 6


class AvailabilityRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.AvailabilityRule

    interviewer = factory.SubFactory(InterviewerFactory)
    weekday = m.Weekday.MON
    start = dt.time(9, 0)
    end = dt.time(17, 0)


class PoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.InterviewerPool

    name = factory.Sequence(lambda n: f"Pool {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.PoolMembership

    pool = factory.SubFactory(PoolFactory)
    interviewer = factory.SubFactory(InterviewerFactory)


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Room

    name = factory.Sequence(lambda n: f"Room {n}")
    timezone = "Europe/London"


class RequisitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Requisition

    title = factory.Sequence(lambda n: f"Backend Engineer {n}")
    coordinator = factory.SubFactory(UserFactory)


class StageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.AtsStage

    requisition = factory.SubFactory(RequisitionFactory)
    name = "Onsite"
    external_id = factory.Sequence(lambda n: f"stage-{n}")


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.InterviewPlan

    name = "Onsite loop"
    requisition = factory.SubFactory(RequisitionFactory)


class SessionTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.SessionTemplate

    plan = factory.SubFactory(PlanFactory)
    position = factory.Sequence(lambda n: n)
    name = "Coding"
    duration_minutes = 60


class RoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Role

    session = factory.SubFactory(SessionTemplateFactory)
    kind = m.Role.Kind.POOL
    pool = factory.SubFactory(PoolFactory)


class CandidateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Candidate

    first_name = "Priya"
    last_name = factory.Sequence(lambda n: f"Raman{n}")
    email = factory.Sequence(lambda n: f"priya.raman{n}@mail.example.org")
    timezone = "Asia/Kolkata"


class ApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Application

    candidate = factory.SubFactory(CandidateFactory)
    requisition = factory.SubFactory(RequisitionFactory)


class SchedulingRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.SchedulingRequest

    application = factory.SubFactory(ApplicationFactory)
    plan = factory.SubFactory(PlanFactory, requisition=factory.SelfAttribute("..application.requisition"))


class OutboxItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.OutboxItem

    kind = "test.noop"
    key = factory.Sequence(lambda n: f"test-item-{n}")
    next_attempt_at = factory.LazyFunction(timezone.now)
    created_at = factory.LazyFunction(timezone.now)


# --- Factories for the remaining models (added with the admin, issue #2) ------------------------------------

from integrations.models import AtsComponentHealth  # noqa: E402
from scheduling import clock  # noqa: E402


def _in(**delta) -> dt.datetime:
    return clock.now().replace(second=0, microsecond=0) + dt.timedelta(**delta)


class BlackoutDateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.BlackoutDate

    interviewer = factory.SubFactory(InterviewerFactory)
    date = factory.Sequence(lambda n: dt.date(2030, 1, 1) + dt.timedelta(days=n))
    reason = "Public holiday"


class AtsComponentHealthFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AtsComponentHealth

    connection = factory.SubFactory(AtsConnectionFactory)
    component = factory.Sequence(lambda n: f"component-{n}")


class RequestTransitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.RequestTransition

    request = factory.SubFactory(SchedulingRequestFactory)
    old_state = m.SchedulingRequest.State.NEW
    new_state = m.SchedulingRequest.State.AWAITING_CANDIDATE
    cause = "link sent"
    at = factory.LazyFunction(clock.now)


class SchedulingLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.SchedulingLink

    request = factory.SubFactory(SchedulingRequestFactory)
    token_hash = factory.Sequence(lambda n: m.hash_token(f"test-token-{n}"))
    created_at = factory.LazyFunction(clock.now)
    expires_at = factory.LazyAttribute(lambda o: o.created_at + dt.timedelta(days=7))


class ProposedWindowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ProposedWindow

    request = factory.SubFactory(SchedulingRequestFactory)
    start = factory.LazyFunction(lambda: _in(days=2))
    end = factory.LazyAttribute(lambda o: o.start + dt.timedelta(hours=3))
    note = "Any time that afternoon"


class ScheduledInterviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ScheduledInterview

    request = factory.SubFactory(SchedulingRequestFactory, state=m.SchedulingRequest.State.BOOKED)
    start = factory.LazyFunction(lambda: _in(days=3))
    end = factory.LazyAttribute(lambda o: o.start + dt.timedelta(hours=2))
    created_at = factory.LazyFunction(clock.now)


class InterviewSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.InterviewSession

    interview = factory.SubFactory(ScheduledInterviewFactory)
    position = factory.Sequence(lambda n: n)
    name = "Coding"
    start = factory.LazyAttribute(lambda o: o.interview.start)
    end = factory.LazyAttribute(lambda o: o.start + dt.timedelta(hours=1))


class SessionParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.SessionParticipant

    session = factory.SubFactory(InterviewSessionFactory)
    interviewer = factory.SubFactory(InterviewerFactory)
    busy_start = factory.LazyAttribute(lambda o: o.session.start)
    busy_end = factory.LazyAttribute(lambda o: o.session.end + dt.timedelta(minutes=10))  # the buffer


class FreeBusyBlockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.FreeBusyBlock

    calendar = factory.SubFactory(CalendarFactory)
    start = factory.LazyFunction(lambda: _in(days=1))
    end = factory.LazyAttribute(lambda o: o.start + dt.timedelta(hours=1))
    fetched_at = factory.LazyFunction(clock.now)


class ReminderSequenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ReminderSequence

    name = factory.Sequence(lambda n: f"Gentle reminders {n}")


class ReminderStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ReminderStep

    sequence = factory.SubFactory(ReminderSequenceFactory)
    delay_hours = 48


class NoticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.Notice

    kind = "request.needs_attention"
    object_type = "scheduling.schedulingrequest"
    object_id = factory.Sequence(str)
    recipient = "coordinator@example.com"
    subject = factory.LazyAttribute(lambda o: f"Request #{o.object_id} needs attention")
    body = factory.LazyAttribute(lambda o: f"Request #{o.object_id} has no bookable time.")
    url = factory.LazyAttribute(lambda o: f"/admin/scheduling/schedulingrequest/{o.object_id}/change/")
    status = m.Notice.Status.SENT
    created_at = factory.LazyFunction(clock.now)


class AuditEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.AuditEvent

    at = factory.LazyFunction(clock.now)
    actor_label = "worker"
    action = "request.move"
    object_type = "scheduling.schedulingrequest"
    object_id = factory.Sequence(str)
    summary = "new -> awaiting_candidate"


class InboundEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.InboundEvent

    connection = factory.SubFactory(AtsConnectionFactory)
    event_key = factory.Sequence(lambda n: f"evt-{n}")
    kind = "candidate_stage_change"
    raw_body = '{"action": "candidate_stage_change", "payload": {"application": {"id": 1}}}'
    received_at = factory.LazyFunction(clock.now)


# --- Operations (issue #7): reminders sent, link escalations, training sessions -------------------------------


class ReminderSendFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.ReminderSend

    request = factory.SubFactory(SchedulingRequestFactory, state=m.SchedulingRequest.State.AWAITING_CANDIDATE)
    step = factory.SubFactory(ReminderStepFactory)
    key = factory.LazyAttribute(lambda o: f"reminder:{o.request.pk}:{o.step.pk}")
    action = m.ReminderStep.Action.REMIND_CANDIDATE
    status = m.ReminderSend.Status.SENT
    due_at = factory.LazyFunction(clock.now)
    claimed_at = factory.LazyFunction(clock.now)
    sent_at = factory.LazyFunction(clock.now)


class LinkEscalationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.LinkEscalation

    link = factory.SubFactory(SchedulingLinkFactory)
    kind = m.LinkEscalation.Kind.EXPIRING
    expires_at = factory.LazyAttribute(lambda o: o.link.expires_at)
    created_at = factory.LazyFunction(clock.now)


class TrainingSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = m.TrainingSession

    session = factory.SubFactory(InterviewSessionFactory)
    interviewer = factory.SubFactory(InterviewerFactory)
    membership = factory.SubFactory(MembershipFactory, interviewer=factory.SelfAttribute("..interviewer"),
                                    training=m.PoolMembership.Training.SHADOW)
    kind = m.TrainingSession.Kind.SHADOW
    completed_at = factory.LazyAttribute(lambda o: o.session.end)
    recorded_at = factory.LazyFunction(clock.now)


# --- Outbound webhooks (issue #10) -----------------------------------------------------------------------------

from integrations.models import WebhookDelivery, WebhookSubscription  # noqa: E402


class WebhookSubscriptionFactory(factory.django.DjangoModelFactory):
    """Saved without `clean()`: the URL is a public literal address, so it would pass anyway."""

    class Meta:
        model = WebhookSubscription

    name = factory.Sequence(lambda n: f"HR platform {n}")
    url = "https://93.184.215.14/hooks/loopwise"
    events = factory.LazyFunction(lambda: ["interview.booked", "interview.cancelled"])


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    subscription = factory.SubFactory(WebhookSubscriptionFactory)
    event = "interview.booked"
    payload = factory.LazyFunction(lambda: {"interview": {"id": 1}, "scheduling_request": {"id": 1}})
    status = WebhookDelivery.Status.FAILED
    attempts = 1
    last_status_code = 500
    last_error = "HTTP 500"
    created_at = factory.LazyFunction(clock.now)
