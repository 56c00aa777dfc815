from django.urls import path

from integrations import views

urlpatterns = [
    path("calendars/connect/<str:token>/", views.calendar_consent_start, name="calendar_consent_start"),
    path("calendars/oauth/<slug:provider>/callback", views.calendar_oauth_callback, name="calendar_oauth_callback"),
    path("webhooks/ats/<str:webhook_key>/", views.ats_webhook, name="ats_webhook"),
    path("webhooks/ats/<str:webhook_key>/token", views.ats_push_token, name="ats_push_token"),  # issue 9: iCIMS
    path("integrations/ats/<int:pk>/lever/authorize", views.ats_lever_authorize, name="ats_lever_authorize"),
    path("integrations/ats/lever/callback", views.ats_lever_callback, name="ats_lever_callback"),
]
