"""Loopwise URLs: the admin (the recruiting team's tool), staff sign-in, the candidate portal and the API."""

from django.contrib import admin
from django.urls import include, path

from scheduling import views as scheduling_views

urlpatterns = [
    path("", scheduling_views.home, name="home"),
    path("healthz", scheduling_views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("scheduling.api.urls")),
    path("dashboard/", include("scheduling.dashboard.urls")),
    path("accounts/", include("allauth.urls")),
    path("", include("integrations.urls")),
    path("", include("candidates_portal.urls")),
]
