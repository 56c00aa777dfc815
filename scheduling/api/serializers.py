"""Read serializers, NetBox-style: an explicit `fields` list per model and a brief form for nested use.
Times are ISO 8601 with an offset (UTC). Candidates appear by id only: no names, emails or phones."""

from __future__ import annotations

from rest_framework import serializers

from integrations.models import AtsComponentHealth, AtsConnection, Calendar, CalendarConnection
from scheduling.models import (
    AvailabilityRule,
    Interviewer,
    InterviewerPool,
    InterviewPlan,
    InterviewSession,
    PoolMembership,
    RequestTransition,
    Requisition,
    Role,
    Room,
    ScheduledInterview,
    SchedulingRequest,
    SessionParticipant,
    SessionTemplate,
)

__all__ = [
    "RequisitionBriefSerializer", "RequisitionSerializer", "PlanBriefSerializer", "InterviewPlanSerializer",
    "InterviewerBriefSerializer", "InterviewerSerializer", "PoolBriefSerializer", "PoolSerializer",
    "SchedulingRequestSerializer", "SchedulingRequestDetailSerializer", "ScheduledInterviewSerializer",
    "HealthSerializer", "OptionSerializer", "AvailabilitySerializer",
]


# ---------------------------------------------------------------------------------------------------------------
# Brief forms


class RequisitionBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Requisition
        fields = ["id", "title"]


class PlanBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = InterviewPlan
        fields = ["id", "name"]


class InterviewerBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Interviewer
        fields = ["id", "name"]


class PoolBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = InterviewerPool
        fields = ["id", "name"]


class RoomBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Room
        fields = ["id", "name"]


# ---------------------------------------------------------------------------------------------------------------
# Requisitions and plans


class RequisitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Requisition
        fields = ["id", "title", "external_id", "department", "location", "open", "recruiter", "coordinator"]


class RoleSerializer(serializers.ModelSerializer):
    pool = PoolBriefSerializer(read_only=True, allow_null=True)
    interviewer = InterviewerBriefSerializer(read_only=True, allow_null=True)
    rooms = RoomBriefSerializer(many=True, read_only=True)

    class Meta:
        model = Role
        fields = ["id", "kind", "pool", "interviewer", "rooms", "count", "optional", "trainees",
                  "reverse_shadow_leads"]


class SessionTemplateSerializer(serializers.ModelSerializer):
    roles = RoleSerializer(many=True, read_only=True)

    class Meta:
        model = SessionTemplate
        fields = ["id", "position", "name", "duration_minutes", "is_break", "roles"]


class InterviewPlanSerializer(serializers.ModelSerializer):
    requisition = RequisitionBriefSerializer(read_only=True)
    sessions = SessionTemplateSerializer(many=True, read_only=True)

    class Meta:
        model = InterviewPlan
        fields = ["id", "name", "requisition", "active", "order", "gap_minutes", "buffer_minutes", "step_minutes",
                  "min_notice_hours", "window_days", "link_expiry_hours", "requires_approval",
                  "reschedule_cutoff_hours", "show_interviewer_names", "sessions"]


# ---------------------------------------------------------------------------------------------------------------
# People


class AvailabilityRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = AvailabilityRule
        fields = ["weekday", "start", "end"]


class InterviewerSerializer(serializers.ModelSerializer):
    rules = AvailabilityRuleSerializer(source="availability_rules", many=True, read_only=True)
    pools = PoolBriefSerializer(many=True, read_only=True)

    class Meta:
        model = Interviewer
        fields = ["id", "name", "email", "title", "timezone", "availability_source", "buffer_minutes",
                  "max_per_day", "max_per_week", "active", "rules", "pools"]


class MembershipSerializer(serializers.ModelSerializer):
    interviewer = InterviewerBriefSerializer(read_only=True)

    class Meta:
        model = PoolMembership
        fields = ["interviewer", "training", "since"]


class PoolSerializer(serializers.ModelSerializer):
    members = MembershipSerializer(source="memberships", many=True, read_only=True)

    class Meta:
        model = InterviewerPool
        fields = ["id", "name", "description", "shadows_required", "reverse_shadows_required", "members"]


# ---------------------------------------------------------------------------------------------------------------
# Requests and interviews


class SchedulingRequestSerializer(serializers.ModelSerializer):
    candidate_id = serializers.IntegerField(source="application.candidate_id", read_only=True)
    requisition = RequisitionBriefSerializer(source="application.requisition", read_only=True)
    plan = PlanBriefSerializer(read_only=True)
    option_count = serializers.SerializerMethodField()

    class Meta:
        model = SchedulingRequest
        fields = ["id", "application_id", "candidate_id", "requisition", "plan", "state", "created_at",
                  "state_changed_at", "link_sent_at", "booked_at", "options_computed_at", "options_truncated",
                  "option_count"]

    def get_option_count(self, obj) -> int:
        return len(obj.options or [])


class TransitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = RequestTransition
        fields = ["old_state", "new_state", "cause", "at"]


class SchedulingRequestDetailSerializer(SchedulingRequestSerializer):
    transitions = TransitionSerializer(many=True, read_only=True)

    class Meta(SchedulingRequestSerializer.Meta):
        fields = [*SchedulingRequestSerializer.Meta.fields, "transitions"]


class ParticipantSerializer(serializers.ModelSerializer):
    interviewer = InterviewerBriefSerializer(read_only=True)

    class Meta:
        model = SessionParticipant
        fields = ["interviewer", "part"]


class InterviewSessionSerializer(serializers.ModelSerializer):
    room = RoomBriefSerializer(read_only=True, allow_null=True)
    participants = ParticipantSerializer(many=True, read_only=True)

    class Meta:
        model = InterviewSession
        fields = ["position", "name", "start", "end", "room", "participants"]


class ScheduledInterviewSerializer(serializers.ModelSerializer):
    sessions = InterviewSessionSerializer(many=True, read_only=True)

    class Meta:
        model = ScheduledInterview
        fields = ["id", "request_id", "revision", "state", "start", "end", "video_link", "sessions"]


# ---------------------------------------------------------------------------------------------------------------
# Options (the solver's shape)


class OptionSessionSerializer(serializers.Serializer):
    id = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    roles = serializers.ListField(child=serializers.ListField(child=serializers.CharField()))


class OptionSerializer(serializers.Serializer):
    """One option as the solver gives it (engine-contract.md): resource ids are "i<pk>" for interviewers and
    "r<pk>" for rooms, as the problem builder names them."""

    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    sessions = OptionSessionSerializer(many=True)


class DiagnosticSerializer(serializers.Serializer):
    code = serializers.CharField()
    session = serializers.CharField(allow_null=True)
    resources = serializers.ListField(child=serializers.CharField())
    message = serializers.CharField()


class AvailabilitySerializer(serializers.Serializer):
    request_id = serializers.IntegerField()
    computed_at = serializers.DateTimeField(allow_null=True)
    truncated = serializers.BooleanField()
    options = OptionSerializer(many=True)
    diagnostics = DiagnosticSerializer(many=True)


# ---------------------------------------------------------------------------------------------------------------
# Connection health


class _HealthMeta:
    fields = ["health", "last_error", "last_error_at", "last_success_at", "consecutive_failures"]


class CalendarConnectionHealthSerializer(serializers.ModelSerializer):
    class Meta:
        model = CalendarConnection
        fields = ["id", "name", "provider", "active", *_HealthMeta.fields]


class CalendarHealthSerializer(serializers.ModelSerializer):
    class Meta:
        model = Calendar
        fields = ["id", "connection_id", "external_id", "kind", "busy_fetched_at", *_HealthMeta.fields]


class AtsComponentHealthSerializer(serializers.ModelSerializer):
    class Meta:
        model = AtsComponentHealth
        fields = ["component", "quiet_since", *_HealthMeta.fields]


class AtsConnectionHealthSerializer(serializers.ModelSerializer):
    components = AtsComponentHealthSerializer(many=True, read_only=True)

    class Meta:
        model = AtsConnection
        fields = ["id", "name", "provider", "active", *_HealthMeta.fields, "components"]


class HealthSerializer(serializers.Serializer):
    calendar_connections = CalendarConnectionHealthSerializer(many=True)
    unhealthy_calendars = CalendarHealthSerializer(many=True)
    ats_connections = AtsConnectionHealthSerializer(many=True)
