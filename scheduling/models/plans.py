"""Requisitions, their ATS stages, and the interview plans (panels) run at those stages."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

__all__ = ["Requisition", "AtsStage", "InterviewPlan", "SessionTemplate", "Role"]


class Requisition(models.Model):
    """An open job, synced from the ATS (or entered by hand)."""

    title = models.CharField(max_length=200)
    ats_connection = models.ForeignKey("integrations.AtsConnection", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="requisitions")
    external_id = models.CharField(max_length=100, blank=True, help_text="The job's id in the ATS.")
    recruiter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="recruiting_for")
    coordinator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="coordinating_for",
                                    help_text="Told about failures; falls back to the ATS connection's address.")
    department = models.CharField(max_length=120, blank=True)
    location = models.CharField(max_length=120, blank=True)
    open = models.BooleanField(default=True)

    class Meta:
        ordering = ["title"]
        constraints = [models.UniqueConstraint(fields=["ats_connection", "external_id"],
                                               condition=~Q(external_id=""),
                                               name="scheduling_requisition_unique_external_id")]

    def __str__(self) -> str:
        return self.title


class AtsStage(models.Model):
    """A stage of a requisition's hiring pipeline in the ATS (e.g. Onsite)."""

    requisition = models.ForeignKey(Requisition, on_delete=models.CASCADE, related_name="stages")
    external_id = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=120)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["requisition", "position", "name"]
        verbose_name = "ATS stage"
        constraints = [models.UniqueConstraint(fields=["requisition", "external_id"], condition=~Q(external_id=""),
                                               name="scheduling_atsstage_unique_external_id")]

    def __str__(self) -> str:
        return f"{self.requisition.title}: {self.name}"


class InterviewPlan(models.Model):
    """The panel a candidate meets at one stage of one requisition, and how it may be scheduled."""

    class Order(models.TextChoices):
        FIXED = "fixed", "In the order given"
        ANY = "any", "Any order (breaks keep their place)"

    name = models.CharField(max_length=200)
    requisition = models.ForeignKey(Requisition, on_delete=models.CASCADE, related_name="plans")
    stage = models.ForeignKey(AtsStage, null=True, blank=True, on_delete=models.SET_NULL, related_name="plans",
                              help_text="Candidates entering this stage get this plan.")
    next_stage = models.ForeignKey(AtsStage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                   help_text="Move the application here in the ATS once booked (optional).")
    active = models.BooleanField(default=True)
    order = models.CharField(max_length=8, choices=Order.choices, default=Order.FIXED)
    gap_minutes = models.PositiveSmallIntegerField(default=0, help_text="Pause between sessions.")
    buffer_minutes = models.PositiveSmallIntegerField(default=10, help_text="Free time interviewers need around "
                                                                             "each session.")
    step_minutes = models.PositiveSmallIntegerField(default=15, help_text="Start times are offered on this grid.")
    min_notice_hours = models.PositiveSmallIntegerField(default=24, help_text="Earliest start after the link is sent.")
    window_days = models.PositiveSmallIntegerField(default=14, help_text="How far ahead times are offered.")
    link_expiry_hours = models.PositiveSmallIntegerField(default=7 * 24)
    requires_approval = models.BooleanField(default=False, help_text="A coordinator approves before the link "
                                                                     "goes out.")
    reschedule_cutoff_hours = models.PositiveSmallIntegerField(default=24, help_text="Candidates may reschedule or "
                                                                                     "cancel until this long before.")
    show_interviewer_names = models.BooleanField(default=True, help_text="Show first names and titles to candidates.")
    allow_reverse_shadow = models.BooleanField(default=True, help_text="Reverse shadows may lead, with a trained "
                                                                       "member watching.")

    class Meta:
        ordering = ["requisition", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(step_minutes__gte=5) & Q(step_minutes__lte=60),
                                   name="scheduling_interviewplan_step_range"),
            models.CheckConstraint(condition=Q(window_days__gte=1) & Q(window_days__lte=62),
                                   name="scheduling_interviewplan_window_range"),
            models.CheckConstraint(condition=Q(link_expiry_hours__gte=1), name="scheduling_interviewplan_expiry_pos"),
            models.UniqueConstraint(fields=["stage"], condition=Q(active=True) & Q(stage__isnull=False),
                                    name="scheduling_interviewplan_one_active_per_stage"),
        ]

    def __str__(self) -> str:
        return f"{self.requisition.title}: {self.name}"


class SessionTemplate(models.Model):
    """One session of a plan, an interview or a break, in its place."""

    plan = models.ForeignKey(InterviewPlan, on_delete=models.CASCADE, related_name="sessions")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=120)
    duration_minutes = models.PositiveSmallIntegerField(default=45)
    is_break = models.BooleanField(default=False, help_text="A break has no interviewers (e.g. lunch).")

    class Meta:
        ordering = ["plan", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(duration_minutes__gte=5) & Q(duration_minutes__lte=480),
                                   name="scheduling_sessiontemplate_duration_range"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.duration_minutes} min)"


class Role(models.Model):
    """Who sits a session: some members of a pool, one fixed interviewer, or a room."""

    class Kind(models.TextChoices):
        POOL = "pool", "From a pool"
        INTERVIEWER = "interviewer", "A fixed interviewer"
        ROOM = "room", "A room"

    session = models.ForeignKey(SessionTemplate, on_delete=models.CASCADE, related_name="roles")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.POOL)
    pool = models.ForeignKey("scheduling.InterviewerPool", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="roles")
    interviewer = models.ForeignKey("scheduling.Interviewer", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="fixed_roles")
    rooms = models.ManyToManyField("scheduling.Room", blank=True, related_name="roles",
                                   help_text="Room roles: the rooms that will do (empty: any active room).")
    count = models.PositiveSmallIntegerField(default=1)
    optional = models.BooleanField(default=False, help_text="Filled when possible, e.g. a shadow.")
    trainees = models.BooleanField(default=False, help_text="Draw the pool's shadows rather than its trained members.")
    reverse_shadow_leads = models.BooleanField(
        default=False, verbose_name="a reverse shadow leads",
        help_text="Pool roles: while the pool has reverse shadows and the plan allows them, one of them leads this "
                  "role and a trained member of the pool watches. Otherwise trained members sit it as usual.")

    class Meta:
        ordering = ["session", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(count__gte=1) & Q(count__lte=10), name="scheduling_role_count_range"),
            models.CheckConstraint(condition=Q(kind="pool", pool__isnull=False, interviewer__isnull=True)
                                   | Q(kind="interviewer", interviewer__isnull=False, pool__isnull=True)
                                   | Q(kind="room", pool__isnull=True, interviewer__isnull=True),
                                   name="scheduling_role_kind_matches_target"),
            models.CheckConstraint(condition=Q(reverse_shadow_leads=False) | Q(kind="pool", trainees=False),
                                   name="scheduling_role_reverse_shadow_leads_pool_role"),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.POOL:
            what = f"{self.count} from {self.pool}" + (" (trainees)" if self.trainees else "") \
                + (" (a reverse shadow leads)" if self.reverse_shadow_leads else "")
        elif self.kind == self.Kind.INTERVIEWER:
            what = str(self.interviewer)
        else:
            what = "a room"
        return what + (" (optional)" if self.optional else "")
