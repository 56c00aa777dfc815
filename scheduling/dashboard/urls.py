"""The dashboard's URLs, under /dashboard/ (config/urls.py)."""

from django.urls import path

from scheduling.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.index, name="index"),
    path("links/<int:pk>/extend/", views.link_extend_view, name="link_extend"),
    path("requests/<int:pk>/regenerate/", views.request_regenerate_view, name="request_regenerate"),
    path("requests/<int:pk>/retry/", views.request_retry_view, name="request_retry"),
    path("outbox/<int:pk>/retry/", views.outbox_retry_view, name="outbox_retry"),
    path("interviewers/<int:pk>/consent/", views.consent_view, name="consent"),
]
