"""API keys: created here (the raw key is shown once, in a message), listed by prefix, scopes and last use,
revoked by an action. The key itself is never stored nor shown again."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from scheduling.api.auth import SCOPES, api_key_create, api_key_revoke
from scheduling.models import ApiKey

from .common import EMPTY, time_column


class ApiKeyAddForm(forms.ModelForm):
    scope_choices = forms.MultipleChoiceField(label="Scopes", choices=[(s, s) for s in SCOPES],
                                              widget=forms.CheckboxSelectMultiple, initial=["read"])

    class Meta:
        model = ApiKey
        fields = ("name",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "scope_list", "created", "last_used", "revoked")
    search_fields = ("name", "prefix")
    actions = ["revoke"]
    created = time_column("created_at", "Created")
    last_used = time_column("last_used_at", "Last used")
    revoked = time_column("revoked_at", "Revoked")

    @admin.display(description="Scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes or []) or EMPTY

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "scope_choices")
        return ("name", "prefix", "scope_list", "created", "last_used", "revoked")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("name", "prefix", "scope_list", "created", "last_used", "revoked")

    def save_model(self, request, obj, form, change):
        if change:
            return
        key, raw = api_key_create(name=form.cleaned_data["name"], scopes=form.cleaned_data["scope_choices"],
                                  actor=request.user)
        obj.pk = key.pk
        obj.__dict__.update({f.attname: getattr(key, f.attname) for f in ApiKey._meta.concrete_fields})
        self.message_user(request, f"API key for {key.name}: {raw} — copy it now; it will not be shown again.",
                          level=messages.WARNING)

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the audit log keeps naming the key

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        done = sum(api_key_revoke(key=key, actor=request.user) for key in queryset)
        self.message_user(request, f"{done} key(s) revoked; their next request answers 401.")
