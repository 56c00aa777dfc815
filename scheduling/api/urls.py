"""`/api/v1/` routes. Reads are registered on `router`; other apps may register their own viewsets on it (see the
marked place below) or include their urls under their own prefix."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from scheduling.api import schema, views  # noqa: F401 - schema registers the auth schemes

app_name = "api"

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("requisitions", views.RequisitionViewSet, basename="requisition")
router.register("interview-plans", views.InterviewPlanViewSet, basename="interview-plan")
router.register("interviewers", views.InterviewerViewSet, basename="interviewer")
router.register("pools", views.PoolViewSet, basename="pool")
router.register("scheduled-interviews", views.ScheduledInterviewViewSet, basename="scheduled-interview")

# --- Outbound webhooks (integrations app): register subscription viewsets here, e.g.
#     router.register("webhook-subscriptions", WebhookSubscriptionViewSet, basename="webhook-subscription")
#     or add `path("webhook-subscriptions/", include("integrations.api_urls"))` to `extra_patterns` below. ---
extra_patterns: list = []
from integrations.webhooks.api import WebhookSubscriptionViewSet  # noqa: E402 - outbound webhooks (issue #10)

router.register("webhook-subscriptions", WebhookSubscriptionViewSet, basename="webhook-subscription")  # issue #10

request_list = views.SchedulingRequestViewSet.as_view({"get": "list"})
request_create = views.RequestCreateApi.as_view()


def scheduling_requests(request, *args, **kwargs):
    """GET lists (the viewset), POST creates (RequestCreateApi): one URL, two views."""
    view = request_create if request.method == "POST" else request_list
    return view(request, *args, **kwargs)


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    path("solve", views.SolveApi.as_view(), name="solve"),
    path("scheduling-requests/", scheduling_requests, name="scheduling-request-list"),
    path("scheduling-requests/<int:pk>/", views.SchedulingRequestViewSet.as_view({"get": "retrieve"}),
         name="scheduling-request-detail"),
    path("scheduling-requests/<int:pk>/availability", views.RequestAvailabilityApi.as_view(),
         name="scheduling-request-availability"),
    path("scheduling-requests/<int:pk>/link", views.LinkRegenerateApi.as_view(), name="scheduling-request-link"),
    path("scheduling-requests/<int:pk>/cancel", views.RequestCancelApi.as_view(), name="scheduling-request-cancel"),
    path("scheduled-interviews/<int:pk>/reschedule", views.InterviewRescheduleApi.as_view(),
         name="scheduled-interview-reschedule"),
    path("scheduled-interviews/<int:pk>/cancel", views.InterviewCancelApi.as_view(),
         name="scheduled-interview-cancel"),
    path("candidates/<int:pk>/erase", views.CandidateEraseApi.as_view(), name="candidate-erase"),
    path("connection-health", views.ConnectionHealthApi.as_view(), name="connection-health"),
    *extra_patterns,
    path("", include(router.urls)),
]
