from django.urls import path

from integrations import views

urlpatterns = [
    path("calendars/connect/<str:token>/", views.calendar_consent_start, name="calendar_consent_start"),
    path("calendars/oauth/<slug:provider>/callback", views.calendar_oauth_callback, name="calendar_oauth_callback"),
]
