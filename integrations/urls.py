from django.urls import path

from integrations import views

urlpatterns = [
    path("calendars/connect/<str:token>/", views.calendar_consent_start, name="calendar_consent_start"),
    path("calendars/oauth/<slug:provider>/callback", views.calendar_oauth_callback, name="calendar_oauth_callback"),
    path("webhooks/ats/<str:webhook_key>/", views.ats_webhook, name="ats_webhook"),
]
