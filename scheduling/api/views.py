"""The API's views. Reads are NetBox-style read-only viewsets (queryset, serializer, filterset); writes are one
view per operation, HackSoft-style (`<Entity><Action>Api` with nested Input/OutputSerializer) calling one
service. Every write is audited as `api:<key name>` (or `staff:<username>` for a staff session)."""

from __future__ import annotations

import datetime as dt
import json

from django.conf import settings
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, parsers, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.models import AtsComponentHealth, AtsConnection, Calendar, CalendarConnection, Health
from scheduling import booking, clock
from scheduling.api import filtersets as f
from scheduling.api import serializers as s
from scheduling.api.auth import actor_label, actor_user
from scheduling.api.errors import PayloadTooLarge
from scheduling.api.services import request_create
from scheduling.audit import audit_log
from scheduling.engine import ProblemError, solve
from scheduling.errors import NotBookable
from scheduling.models import (
    ApiKey,
    Application,
    Candidate,
    Interviewer,
    InterviewerPool,
    InterviewPlan,
    InterviewSession,
    PoolMembership,
    Requisition,
    Role,
    ScheduledInterview,
    SchedulingRequest,
    SessionParticipant,
    SessionTemplate,
)
from scheduling.privacy import candidate_erase

__all__ = [
    "RequisitionViewSet", "InterviewPlanViewSet", "InterviewerViewSet", "PoolViewSet",
    "SchedulingRequestViewSet", "ScheduledInterviewViewSet", "ConnectionHealthApi", "SolveApi",
    "RequestCreateApi", "RequestAvailabilityApi", "LinkRegenerateApi", "RequestCancelApi",
    "InterviewRescheduleApi", "InterviewCancelApi", "CandidateEraseApi",
]


# ---------------------------------------------------------------------------------------------------------------
# Shared schema pieces


class ErrorSerializer(serializers.Serializer):
    class Entry(serializers.Serializer):
        field = serializers.CharField(allow_null=True, help_text="The input at fault, e.g. 'sessions[2].roles[0]"
                                                                 ".pool', or null.")
        message = serializers.CharField()

    errors = Entry(many=True)


def _err(description: str, field: str | None, message: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description, examples=[
        OpenApiExample(description, value={"errors": [{"field": field, "message": message}]})])


E401 = _err("No key, or a wrong or revoked key", None, "invalid API key")
E403 = _err("The key lacks the scope", None, "this API key lacks the write scope")
E404 = _err("Not found", None, "No SchedulingRequest matches the given query.")
E409 = _err("The object is in no state for this", None, "request #12 is cancelled")
E429 = _err("Too many requests (see Retry-After)", None, "Request was throttled. Expected available in 12 seconds.")
READ_ERRORS = {401: E401, 403: E403, 429: E429}
ONE_ERRORS = {**READ_ERRORS, 404: E404}


def _audit(request, *, action: str, obj, summary: str = "") -> None:
    audit_log(action=action, obj=obj, actor=actor_user(request), actor_label=actor_label(request), summary=summary)


T0 = "2026-12-03T14:00:00Z"

# ---------------------------------------------------------------------------------------------------------------
# Reads


@extend_schema_view(
    list=extend_schema(summary="List requisitions", responses={200: s.RequisitionSerializer(many=True),
                                                               **READ_ERRORS},
                       examples=[OpenApiExample("A requisition", response_only=True, value={
                           "id": 3, "title": "Backend Engineer", "external_id": "4012", "department": "Engineering",
                           "location": "London", "open": True, "recruiter": 2, "coordinator": 5})]),
    retrieve=extend_schema(summary="One requisition", responses={200: s.RequisitionSerializer, **ONE_ERRORS}),
)
class RequisitionViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Requisition.objects.order_by("title", "id")
    serializer_class = s.RequisitionSerializer
    filterset_class = f.RequisitionFilterSet


@extend_schema_view(
    list=extend_schema(summary="List interview plans with their sessions and roles",
                       responses={200: s.InterviewPlanSerializer(many=True), **READ_ERRORS},
                       examples=[OpenApiExample("A plan", response_only=True, value={
                           "id": 7, "name": "Onsite", "requisition": {"id": 3, "title": "Backend Engineer"},
                           "active": True, "order": "fixed", "gap_minutes": 0, "buffer_minutes": 10,
                           "step_minutes": 15, "min_notice_hours": 24, "window_days": 14, "link_expiry_hours": 168,
                           "requires_approval": False, "reschedule_cutoff_hours": 24, "show_interviewer_names": True,
                           "sessions": [{"id": 21, "position": 0, "name": "Coding", "duration_minutes": 60,
                                         "is_break": False, "roles": [
                                             {"id": 40, "kind": "pool", "pool": {"id": 2, "name": "Backend"},
                                              "interviewer": None, "rooms": [], "count": 1, "optional": False,
                                              "trainees": False, "reverse_shadow_leads": False}]}]})]),
    retrieve=extend_schema(summary="One interview plan", responses={200: s.InterviewPlanSerializer, **ONE_ERRORS}),
)
class InterviewPlanViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = InterviewPlan.objects.select_related("requisition").prefetch_related(
        Prefetch("sessions", queryset=SessionTemplate.objects.order_by("position", "id").prefetch_related(
            Prefetch("roles", queryset=Role.objects.select_related("pool", "interviewer").prefetch_related("rooms")
                     .order_by("id"))))).order_by("requisition__title", "name", "id")
    serializer_class = s.InterviewPlanSerializer
    filterset_class = f.InterviewPlanFilterSet


@extend_schema_view(
    list=extend_schema(summary="List interviewers with their working-hours rules",
                       responses={200: s.InterviewerSerializer(many=True), **READ_ERRORS},
                       examples=[OpenApiExample("An interviewer", response_only=True, value={
                           "id": 5, "name": "Alice Smith", "email": "alice@example.com", "title": "Staff Engineer",
                           "timezone": "Europe/London", "availability_source": "calendar", "buffer_minutes": None,
                           "max_per_day": 2, "max_per_week": 6, "active": True,
                           "rules": [{"weekday": 0, "start": "09:00:00", "end": "17:30:00"}],
                           "pools": [{"id": 2, "name": "Backend"}]})]),
    retrieve=extend_schema(summary="One interviewer", responses={200: s.InterviewerSerializer, **ONE_ERRORS}),
)
class InterviewerViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Interviewer.objects.prefetch_related("availability_rules", "pools").order_by("name", "id")
    serializer_class = s.InterviewerSerializer
    filterset_class = f.InterviewerFilterSet


@extend_schema_view(
    list=extend_schema(summary="List interviewer pools with their members",
                       responses={200: s.PoolSerializer(many=True), **READ_ERRORS},
                       examples=[OpenApiExample("A pool", response_only=True, value={
                           "id": 2, "name": "Backend", "description": "", "shadows_required": 3,
                           "reverse_shadows_required": 3, "members": [
                               {"interviewer": {"id": 5, "name": "Alice Smith"}, "training": "trained",
                                "since": "2026-01-05T10:00:00Z"}]})]),
    retrieve=extend_schema(summary="One pool", responses={200: s.PoolSerializer, **ONE_ERRORS}),
)
class PoolViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = InterviewerPool.objects.prefetch_related(
        Prefetch("memberships", queryset=PoolMembership.objects.select_related("interviewer")
                 .order_by("interviewer__name", "id"))).order_by("name", "id")
    serializer_class = s.PoolSerializer
    filterset_class = f.PoolFilterSet


REQUEST_EXAMPLE = {
    "id": 12, "application_id": 30, "candidate_id": 31, "requisition": {"id": 3, "title": "Backend Engineer"},
    "plan": {"id": 7, "name": "Onsite"}, "state": "awaiting_candidate", "created_at": "2026-12-01T09:00:00Z",
    "state_changed_at": "2026-12-01T09:00:02Z", "link_sent_at": "2026-12-01T09:00:02Z", "booked_at": None,
    "options_computed_at": "2026-12-01T09:00:01Z", "options_truncated": False, "option_count": 48}


@extend_schema_view(
    list=extend_schema(summary="List scheduling requests (filter by state, requisition, created date)",
                       responses={200: s.SchedulingRequestSerializer(many=True), **READ_ERRORS},
                       examples=[OpenApiExample("A request", response_only=True, value=REQUEST_EXAMPLE)]),
    retrieve=extend_schema(summary="One scheduling request with its history",
                           responses={200: s.SchedulingRequestDetailSerializer, **ONE_ERRORS},
                           examples=[OpenApiExample("A request", response_only=True, value={
                               **REQUEST_EXAMPLE, "transitions": [
                                   {"old_state": "new", "new_state": "awaiting_candidate", "cause": "link sent",
                                    "at": "2026-12-01T09:00:02Z"}]})]),
)
class SchedulingRequestViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = SchedulingRequest.objects.select_related("plan", "application__requisition").order_by(
        "-created_at", "-id")
    serializer_class = s.SchedulingRequestSerializer
    filterset_class = f.SchedulingRequestFilterSet

    def get_queryset(self):
        if self.action == "retrieve":
            return self.queryset.prefetch_related("transitions")
        # The option list can be large: lists count it in the database instead of loading it.
        return self.queryset.defer("diagnostics")

    def get_serializer_class(self):
        return s.SchedulingRequestDetailSerializer if self.action == "retrieve" else s.SchedulingRequestSerializer


INTERVIEW_EXAMPLE = {
    "id": 44, "request_id": 12, "revision": 1, "state": "active", "start": T0, "end": "2026-12-03T16:30:00Z",
    "video_link": "", "sessions": [
        {"position": 0, "name": "Coding", "start": T0, "end": "2026-12-03T15:00:00Z",
         "room": {"id": 1, "name": "4A"}, "participants": [
             {"interviewer": {"id": 5, "name": "Alice Smith"}, "part": "interviewer"}]}]}


@extend_schema_view(
    list=extend_schema(summary="List scheduled interviews",
                       responses={200: s.ScheduledInterviewSerializer(many=True), **READ_ERRORS},
                       examples=[OpenApiExample("An interview", response_only=True, value=INTERVIEW_EXAMPLE)]),
    retrieve=extend_schema(summary="One scheduled interview",
                           responses={200: s.ScheduledInterviewSerializer, **ONE_ERRORS},
                           examples=[OpenApiExample("An interview", response_only=True, value=INTERVIEW_EXAMPLE)]),
)
class ScheduledInterviewViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = ScheduledInterview.objects.prefetch_related(
        Prefetch("sessions", queryset=InterviewSession.objects.select_related("room").prefetch_related(
            Prefetch("participants", queryset=SessionParticipant.objects.select_related("interviewer")
                     .order_by("interviewer__name", "id"))).order_by("position"))).order_by("start", "id")
    serializer_class = s.ScheduledInterviewSerializer
    filterset_class = f.ScheduledInterviewFilterSet


class ConnectionHealthApi(APIView):
    """Calendar connections, the calendars that are not healthy, and ATS connections with their components."""

    @extend_schema(summary="Connection health", responses={200: s.HealthSerializer, **READ_ERRORS},
                   examples=[OpenApiExample("One broken calendar", response_only=True, value={
                       "calendar_connections": [{"id": 1, "name": "Workspace", "provider": "google", "active": True,
                                                 "health": "ok", "last_error": "", "last_error_at": None,
                                                 "last_success_at": "2026-12-01T08:55:00Z",
                                                 "consecutive_failures": 0}],
                       "unhealthy_calendars": [{"id": 9, "connection_id": 1, "external_id": "room-4a@example.com",
                                                "kind": "room", "busy_fetched_at": "2026-11-30T08:00:00Z",
                                                "health": "red", "last_error": "notFound",
                                                "last_error_at": "2026-12-01T08:55:00Z",
                                                "last_success_at": "2026-11-30T08:00:00Z",
                                                "consecutive_failures": 4}],
                       "ats_connections": [{"id": 1, "name": "Greenhouse", "provider": "greenhouse", "active": True,
                                            "health": "ok", "last_error": "", "last_error_at": None,
                                            "last_success_at": "2026-12-01T08:50:00Z", "consecutive_failures": 0,
                                            "components": [{"component": "webhooks", "quiet_since": None,
                                                            "health": "ok", "last_error": "",
                                                            "last_error_at": None,
                                                            "last_success_at": "2026-12-01T08:50:00Z",
                                                            "consecutive_failures": 0}]}]})])
    def get(self, request):
        data = {
            "calendar_connections": CalendarConnection.objects.order_by("name", "id"),
            "unhealthy_calendars": Calendar.objects.exclude(health=Health.OK).order_by("connection_id",
                                                                                       "external_id", "id"),
            "ats_connections": AtsConnection.objects.prefetch_related(
                Prefetch("components", queryset=AtsComponentHealth.objects.order_by("component"))).order_by("name"),
        }
        return Response(s.HealthSerializer(data).data)


# ---------------------------------------------------------------------------------------------------------------
# The solver's door


class LimitedJSONParser(parsers.JSONParser):
    """JSON, refusing a body over `settings.API_SOLVE_MAX_BYTES` with 413 before reading more than that."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_SOLVE_MAX_BYTES
        request = (parser_context or {}).get("request")
        length = request.META.get("CONTENT_LENGTH") if request is not None else None
        if length and length.isdigit() and int(length) > limit:
            raise PayloadTooLarge(f"the problem is over {limit} bytes")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"the problem is over {limit} bytes")
        try:
            return json.loads(raw.decode(parser_context.get("encoding", "utf-8") if parser_context else "utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise exceptions.ParseError(f"JSON parse error - {e}") from None


SOLVE_PROBLEM = {
    "now": "2027-02-01T00:00:00Z", "window": {"start": "2027-02-03T09:00:00Z", "end": "2027-02-03T12:00:00Z"},
    "step_minutes": 15, "buffer_minutes": 15,
    "resources": {"bo": {"timezone": "UTC", "busy": [["2027-02-03T09:00:00Z", "2027-02-03T09:45:00Z"]]},
                  "cy": {"timezone": "UTC", "busy": [["2027-02-03T09:00:00Z", "2027-02-03T10:00:00Z"]]},
                  "room-1": {"kind": "room", "timezone": "UTC",
                             "busy": [["2027-02-03T09:00:00Z", "2027-02-03T10:00:00Z"]]}},
    "sessions": [{"id": "panel", "duration_minutes": 60,
                  "roles": [{"pool": ["bo", "cy"], "count": 1}, {"pool": ["room-1"], "count": 1}]}]}
SOLVE_RESULT = {"options": [{"start": "2027-02-03T10:00:00Z", "end": "2027-02-03T11:00:00Z", "sessions": [
    {"id": "panel", "start": "2027-02-03T10:00:00Z", "end": "2027-02-03T11:00:00Z", "roles": [["bo"], ["room-1"]]}]}],
    "truncated": False, "diagnostics": []}


class SolveApi(APIView):
    """`POST /api/v1/solve`: the body is a problem exactly as shared/engine-contract.md defines it; the answer is
    `solve()`'s result as is. Read scope suffices: it reads and writes nothing."""

    required_scope = ApiKey.Scope.READ
    parser_classes = [LimitedJSONParser]

    @extend_schema(
        summary="Solve a loop-scheduling problem (the engine contract)",
        description="The body is the problem of the loop-solver contract; the answer is every option, `truncated` "
                    "and `diagnostics`. Unknown fields are errors. A body over the configured size answers 413.",
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="The solver's result"),
                   400: _err("A bad problem, naming the field", "sessions[0].duration_minutes",
                             "must be from 5 to 480"),
                   413: _err("Body too large", None, "the problem is over 5242880 bytes"),
                   **READ_ERRORS},
        examples=[OpenApiExample("A panel and a room", request_only=True, value=SOLVE_PROBLEM),
                  OpenApiExample("Its options", response_only=True, status_codes=["200"], value=SOLVE_RESULT)],
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            raise ProblemError("(root)", "the problem must be a JSON object")
        return Response(solve(request.data))


# ---------------------------------------------------------------------------------------------------------------
# Writes on requests


class RequestCreateApi(APIView):
    """Create a scheduling request and start it (options, then the link or the approval step)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RequestCreateInput"

        application_id = serializers.IntegerField(required=False, min_value=1, help_text="Or candidate_id + "
                                                                                         "requisition_id.")
        candidate_id = serializers.IntegerField(required=False, min_value=1)
        requisition_id = serializers.IntegerField(required=False, min_value=1)
        plan_id = serializers.IntegerField(min_value=1)

        def validate(self, data):
            if data.get("application_id"):
                if data.get("candidate_id") or data.get("requisition_id"):
                    raise serializers.ValidationError(
                        {"application_id": "give application_id, or candidate_id and requisition_id, not both"})
                app = Application.objects.select_related("candidate").filter(pk=data["application_id"]).first()
                if app is None:
                    raise serializers.ValidationError({"application_id": "no such application"})
                data["application"], requisition_id = app, app.requisition_id
                candidate = app.candidate
            else:
                missing = [k for k in ("candidate_id", "requisition_id") if not data.get(k)]
                if missing:
                    raise serializers.ValidationError({k: "required without application_id" for k in missing})
                candidate = Candidate.objects.filter(pk=data["candidate_id"]).first()
                if candidate is None:
                    raise serializers.ValidationError({"candidate_id": "no such candidate"})
                requisition = Requisition.objects.filter(pk=data["requisition_id"]).first()
                if requisition is None:
                    raise serializers.ValidationError({"requisition_id": "no such requisition"})
                data["candidate"], data["requisition"], requisition_id = candidate, requisition, requisition.pk
            if candidate.erased_at is not None:
                raise serializers.ValidationError({"candidate_id": "this candidate has been erased"})
            plan = InterviewPlan.objects.filter(pk=data["plan_id"]).first()
            if plan is None:
                raise serializers.ValidationError({"plan_id": "no such plan"})
            if plan.requisition_id != requisition_id:
                raise serializers.ValidationError({"plan_id": "the plan belongs to another requisition"})
            if not plan.active:
                raise serializers.ValidationError({"plan_id": "the plan is not active"})
            data["plan"] = plan
            return data

    @extend_schema(
        summary="Create a scheduling request and start it",
        request=InputSerializer,
        responses={201: s.SchedulingRequestDetailSerializer,
                   400: _err("Invalid input", "plan_id", "the plan belongs to another requisition"),
                   409: _err("An open request exists", None,
                             "application #30 already has an open request for plan #7"), **READ_ERRORS},
        examples=[OpenApiExample("For an application", request_only=True, value={"application_id": 30, "plan_id": 7}),
                  OpenApiExample("For a candidate and requisition", request_only=True,
                                 value={"candidate_id": 31, "requisition_id": 3, "plan_id": 7}),
                  OpenApiExample("Created", response_only=True, status_codes=["201"], value={
                      **REQUEST_EXAMPLE, "transitions": [{"old_state": "new", "new_state": "awaiting_candidate",
                                                          "cause": "link sent", "at": "2026-12-01T09:00:02Z"}]})],
    )
    def post(self, request):
        data = self._input(request)
        created = request_create(plan=data["plan"], application=data.get("application"),
                                 candidate=data.get("candidate"), requisition=data.get("requisition"),
                                 actor=actor_user(request), actor_label=actor_label(request))
        # After commit (the service's transaction is closed here): solve, then send the link or ask for approval.
        booking.request_start(request=created, actor=actor_user(request))
        created = SchedulingRequestViewSet.queryset.prefetch_related("transitions").get(pk=created.pk)
        return Response(s.SchedulingRequestDetailSerializer(created).data, status=status.HTTP_201_CREATED)

    def _input(self, request) -> dict:
        ser = self.InputSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        return ser.validated_data


class _RequestWriteApi(APIView):
    def _request(self, pk: int) -> SchedulingRequest:
        return get_object_or_404(SchedulingRequest, pk=pk)

    def _answer(self, pk: int) -> Response:
        obj = SchedulingRequestViewSet.queryset.prefetch_related("transitions").get(pk=pk)
        return Response(s.SchedulingRequestDetailSerializer(obj).data)


class LinkRegenerateApi(_RequestWriteApi):
    """Send the request's link, or a new one (the old one stops working). The link itself is only emailed."""

    @extend_schema(summary="Send or regenerate the request's link", request=None,
                   responses={200: s.SchedulingRequestDetailSerializer, 409: E409, 503: _err(
                       "The email could not be sent", None, "the mail server refused the message"), **ONE_ERRORS},
                   examples=[OpenApiExample("Sent", response_only=True, value={**REQUEST_EXAMPLE, "transitions": []})])
    def post(self, request, pk: int):
        obj = self._request(pk)
        try:
            booking.link_regenerate(request=obj, actor=actor_user(request))
        except ProblemError as e:
            raise NotBookable(f"request #{obj.pk}: its plan cannot be scheduled ({e})", {"request_id": obj.pk}) \
                from None
        _audit(request, action="api.link_regenerated", obj=obj)
        return self._answer(obj.pk)


class RequestCancelApi(_RequestWriteApi):
    """Cancel the request and its booking, if any (calendar events removed, candidate told)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "RequestCancelInput"

        reason = serializers.CharField(required=False, allow_blank=True, max_length=500,
                                       help_text="For the audit log; emails and phone numbers are removed.")

    @extend_schema(summary="Cancel a scheduling request", request=InputSerializer,
                   responses={200: s.SchedulingRequestDetailSerializer, 400: _err("Invalid input", "reason",
                                                                                 "Not a valid string."),
                              409: E409, **ONE_ERRORS},
                   examples=[OpenApiExample("With a reason", request_only=True, value={"reason": "position filled"}),
                             OpenApiExample("Cancelled", response_only=True,
                                            value={**REQUEST_EXAMPLE, "state": "cancelled", "transitions": []})])
    def post(self, request, pk: int):
        obj = self._request(pk)
        ser = self.InputSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        booking.interview_cancel(request=obj, by=actor_label(request), actor=actor_user(request),
                                 reason=ser.validated_data.get("reason", ""))
        _audit(request, action="api.request_cancelled", obj=obj)
        return self._answer(obj.pk)


class RequestAvailabilityApi(APIView):
    """The request's stored options; recomputed first when older than API_OPTIONS_MAX_AGE_MINUTES (open requests
    only: a closed one answers what it last had)."""

    @extend_schema(summary="The options on offer for a request", responses={200: s.AvailabilitySerializer,
                                                                           409: E409, **ONE_ERRORS},
                   examples=[OpenApiExample("Options", response_only=True, value={
                       "request_id": 12, "computed_at": "2026-12-01T09:00:01Z", "truncated": False,
                       "options": [{"start": T0, "end": "2026-12-03T15:00:00Z", "sessions": [
                           {"id": "s21", "start": T0, "end": "2026-12-03T15:00:00Z", "roles": [["i5"], ["r1"]]}]}],
                       "diagnostics": []})])
    def get(self, request, pk: int):
        obj = get_object_or_404(SchedulingRequest, pk=pk)
        max_age = dt.timedelta(minutes=settings.API_OPTIONS_MAX_AGE_MINUTES)
        stale = obj.options_computed_at is None or clock.now() - obj.options_computed_at > max_age
        if stale and obj.state in SchedulingRequest.OPEN_STATES:
            try:
                booking.request_solve(request=obj)
            except ProblemError as e:
                raise NotBookable(f"request #{obj.pk}: its plan cannot be scheduled ({e})",
                                  {"request_id": obj.pk}) from None
        return Response(s.AvailabilitySerializer({
            "request_id": obj.pk, "computed_at": obj.options_computed_at, "truncated": obj.options_truncated,
            "options": obj.options or [], "diagnostics": obj.diagnostics or []}).data)


# ---------------------------------------------------------------------------------------------------------------
# Writes on interviews and candidates


def _live_interview(pk: int) -> ScheduledInterview:
    interview = get_object_or_404(ScheduledInterview.objects.select_related("request"), pk=pk)
    if interview.state != ScheduledInterview.State.ACTIVE:
        raise NotBookable(f"interview #{interview.pk} is {interview.state}: only the live booking can change",
                          {"interview_id": interview.pk})
    return interview


class InterviewRescheduleApi(APIView):
    """Move a booked interview to another option: one of the request's stored options by its start, or a full
    option (staff rules: any option that passes the re-check against fresh calendars)."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "InterviewRescheduleInput"

        start = serializers.DateTimeField(required=False, help_text="The start of one of the stored options.")
        option = s.OptionSerializer(required=False, help_text="A full option, in the solver's shape.")

        def validate(self, data):
            if ("start" in data) == ("option" in data):
                raise serializers.ValidationError({"start": "give either start or option"})
            return data

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "InterviewRescheduleOutput"

        interview = s.ScheduledInterviewSerializer()

    @extend_schema(summary="Reschedule a scheduled interview", request=InputSerializer,
                   responses={200: OutputSerializer,
                              400: _err("Invalid input", "start", "no stored option starts at this time"),
                              409: _err("The option no longer holds", None,
                                        "That time has just been taken. Here are the times still available."),
                              503: _err("Calendars could not be read", None,
                                        "We could not check the interviewers' calendars just now."), **ONE_ERRORS},
                   examples=[OpenApiExample("By start", request_only=True, value={"start": "2026-12-04T14:00:00Z"}),
                             OpenApiExample("Rescheduled", response_only=True,
                                            value={"interview": {**INTERVIEW_EXAMPLE, "id": 45, "revision": 2}})])
    def post(self, request, pk: int):
        interview = _live_interview(pk)
        ser = self.InputSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        if "start" in ser.validated_data:
            option = booking.option_for_start(request=interview.request,
                                              start=ser.validated_data["start"].isoformat())
            if option is None:
                raise exceptions.ValidationError({"start": "no stored option starts at this time"})
        else:
            option = request.data["option"]
        result = booking.interview_reschedule(request=interview.request, option=option,
                                              actor_label=actor_label(request), actor=actor_user(request))
        if result.interview is None:
            code = status.HTTP_503_SERVICE_UNAVAILABLE if result.retry_later else status.HTTP_409_CONFLICT
            return Response({"errors": [{"field": None, "message": result.message}]}, status=code)
        _audit(request, action="api.interview_rescheduled", obj=result.interview,
               summary=f"from interview #{interview.pk}")
        fresh = ScheduledInterviewViewSet.queryset.get(pk=result.interview.pk)
        return Response({"interview": s.ScheduledInterviewSerializer(fresh).data})


class InterviewCancelApi(APIView):
    """Cancel a booked interview, and with it its request."""

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "InterviewCancelInput"

        reason = serializers.CharField(required=False, allow_blank=True, max_length=500)

    @extend_schema(summary="Cancel a scheduled interview", request=InputSerializer,
                   responses={200: s.ScheduledInterviewSerializer, 409: E409, **ONE_ERRORS},
                   examples=[OpenApiExample("With a reason", request_only=True, value={"reason": "candidate withdrew"}),
                             OpenApiExample("Cancelled", response_only=True,
                                            value={**INTERVIEW_EXAMPLE, "state": "cancelled"})])
    def post(self, request, pk: int):
        interview = _live_interview(pk)
        ser = self.InputSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        booking.interview_cancel(request=interview.request, by=actor_label(request), actor=actor_user(request),
                                 reason=ser.validated_data.get("reason", ""))
        _audit(request, action="api.interview_cancelled", obj=interview)
        return Response(s.ScheduledInterviewSerializer(ScheduledInterviewViewSet.queryset.get(pk=pk)).data)


class CandidateEraseApi(APIView):
    """Erase a candidate's personal data (privacy request): `scheduling.privacy.candidate_erase`."""

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "CandidateEraseOutput"

        id = serializers.IntegerField()
        erased_at = serializers.DateTimeField()

    @extend_schema(summary="Erase a candidate's personal data", request=None,
                   responses={200: OutputSerializer, **ONE_ERRORS},
                   examples=[OpenApiExample("Erased", response_only=True,
                                            value={"id": 31, "erased_at": "2026-12-01T09:00:00Z"})])
    def post(self, request, pk: int):
        candidate = get_object_or_404(Candidate, pk=pk)
        candidate_erase(candidate=candidate, actor=actor_user(request))
        _audit(request, action="api.candidate_erased", obj=candidate)
        candidate.refresh_from_db(fields=["erased_at"])
        return Response({"id": candidate.pk, "erased_at": candidate.erased_at})


