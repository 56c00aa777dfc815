"""Staff users (with their time zone) and the organisation's one row of settings."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.shortcuts import redirect
from django.urls import reverse

from scheduling.models import OrganisationSettings, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets[:2],
        ("Time zone", {"fields": ("timezone",),
                       "description": "Every time in the admin is shown in this zone."}),
        *DjangoUserAdmin.fieldsets[2:],
    )
    add_fieldsets = (
        (None, {"classes": ("wide",),
                "fields": ("username", "email", "first_name", "last_name", "timezone", "usable_password",
                           "password1", "password2")}),
    )
    list_display = ("username", "full_name", "email", "timezone", "is_staff", "is_superuser", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")

    @admin.display(description="Name", ordering="last_name")
    def full_name(self, obj: User) -> str:
        return obj.get_full_name()


@admin.register(OrganisationSettings)
class OrganisationSettingsAdmin(admin.ModelAdmin):
    """A singleton: the list page leads straight to the one row, which cannot be deleted."""

    fieldsets = (
        ("Shown to candidates", {"fields": ("company_name", "logo_url", "support_contact")}),
        ("Candidate emails", {"fields": ("sender_email", "reply_to_email")}),
        ("Calendar events", {"fields": ("scheduling_connection",)}),
    )
    autocomplete_fields = ("scheduling_connection",)

    def has_add_permission(self, request):
        return not OrganisationSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        # Reading the page creates the row with its defaults, so there is always one form to fill in.
        row = OrganisationSettings.load()
        return redirect(reverse("admin:scheduling_organisationsettings_change", args=[row.pk]))

    def response_change(self, request, obj):
        response = super().response_change(request, obj)
        if "_continue" not in request.POST and "_addanother" not in request.POST:
            return redirect("admin:index")
        return response
