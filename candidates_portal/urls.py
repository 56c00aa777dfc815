"""The candidate portal's URLs: the token path, then pages that carry no token."""

from django.urls import path

from candidates_portal import views

app_name = "portal"

urlpatterns = [
    path("s/<str:token>/", views.link_open_view, name="link_open"),
    path("schedule/", views.schedule, name="schedule"),
    path("schedule/confirm", views.confirm, name="confirm"),
    path("schedule/booked", views.booked, name="booked"),
    path("schedule/booked.ics", views.booked_ics, name="booked_ics"),
    path("schedule/reschedule", views.reschedule, name="reschedule"),
    path("schedule/cancel", views.cancel, name="cancel"),
    path("schedule/cancelled", views.cancelled, name="cancelled"),
    path("schedule/timezone", views.timezone, name="timezone"),
    path("schedule/windows", views.windows, name="windows"),
    path("schedule/windows/thanks", views.windows_thanks, name="windows_thanks"),
    path("schedule/expired", views.expired, name="expired"),
    path("schedule/new-link", views.new_link, name="new_link"),
    path("schedule/new-link/sent", views.new_link_sent, name="new_link_sent"),
]
