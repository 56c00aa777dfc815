"""django-filter FilterSets, NetBox-style: `x_id` for a related object's id, a plain field name for its natural
key, `q` for a free-text search, and `<field>_after` / `<field>_before` for time ranges (inclusive, ISO 8601)."""

from __future__ import annotations

import datetime as dt

import django_filters as filters
from django import forms
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

from scheduling.models import (
    Interviewer,
    InterviewerPool,
    InterviewPlan,
    Requisition,
    ScheduledInterview,
    SchedulingRequest,
)

__all__ = ["RequisitionFilterSet", "InterviewPlanFilterSet", "InterviewerFilterSet", "PoolFilterSet",
           "SchedulingRequestFilterSet", "ScheduledInterviewFilterSet"]



class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 instant turned into UTC before it reaches the database: PostgreSQL refuses offsets past
    +-15:59 (Python allows up to 23:59), and an instant that has no UTC form is a field error, not a 500."""

    def clean(self, value):
        instant = super().clean(value)
        if instant is None:
            return None
        try:
            return instant.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError("this instant is out of range") from None


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField

class _Search(filters.FilterSet):
    q = filters.CharFilter(method="search", label="Search")
    search_fields: tuple[str, ...] = ()

    def search(self, queryset, name, value):
        if not value.strip():
            return queryset
        cond = Q()
        for field in self.search_fields:
            cond |= Q(**{f"{field}__icontains": value.strip()})
        return queryset.filter(cond)


class RequisitionFilterSet(_Search):
    search_fields = ("title", "department", "location", "external_id")

    class Meta:
        model = Requisition
        fields = ["open", "external_id", "department"]


class InterviewPlanFilterSet(_Search):
    search_fields = ("name",)
    requisition_id = filters.NumberFilter(field_name="requisition_id")

    class Meta:
        model = InterviewPlan
        fields = ["active", "requisition_id"]


class InterviewerFilterSet(_Search):
    search_fields = ("name", "email", "title")
    pool_id = filters.NumberFilter(field_name="memberships__pool_id", distinct=True)
    pool = filters.CharFilter(field_name="memberships__pool__name", distinct=True, label="Pool name")

    class Meta:
        model = Interviewer
        fields = ["active", "email", "timezone", "pool_id", "pool"]


class PoolFilterSet(_Search):
    search_fields = ("name", "description")

    class Meta:
        model = InterviewerPool
        fields = ["name"]


class SchedulingRequestFilterSet(_Search):
    search_fields = ()
    state = filters.MultipleChoiceFilter(choices=SchedulingRequest.State.choices)
    requisition_id = filters.NumberFilter(field_name="application__requisition_id")
    requisition = filters.CharFilter(field_name="application__requisition__external_id",
                                     label="Requisition's ATS id")
    plan_id = filters.NumberFilter(field_name="plan_id")
    application_id = filters.NumberFilter(field_name="application_id")
    candidate_id = filters.NumberFilter(field_name="application__candidate_id")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lte")

    class Meta:
        model = SchedulingRequest
        fields = ["state", "requisition_id", "requisition", "plan_id", "application_id", "candidate_id"]

    def search(self, queryset, name, value):
        # Requests hold no text of their own worth searching: `q` matches the plan's or requisition's name.
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(plan__name__icontains=value) | Q(application__requisition__title__icontains=value))


class ScheduledInterviewFilterSet(filters.FilterSet):
    state = filters.MultipleChoiceFilter(choices=ScheduledInterview.State.choices)
    request_id = filters.NumberFilter(field_name="request_id")
    requisition_id = filters.NumberFilter(field_name="request__application__requisition_id")
    start_after = UtcDateTimeFilter(field_name="start", lookup_expr="gte")
    start_before = UtcDateTimeFilter(field_name="start", lookup_expr="lte")

    class Meta:
        model = ScheduledInterview
        fields = ["state", "request_id", "requisition_id"]
