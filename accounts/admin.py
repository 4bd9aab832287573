"""accounts: Django admin for API keys. The raw key is shown once, on the page after saving."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_api_key.models import APIKey as LibraryAPIKey

from accounts.errors import ApiKeyAlreadyRevoked
from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke, api_key_update

# The library registers an admin for its own (unused) APIKey model; one "API keys" page is enough.
if admin.site.is_registered(LibraryAPIKey):
    admin.site.unregister(LibraryAPIKey)


class ApiKeyForm(ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "expiry_date"]

    def clean(self) -> dict[str, Any]:
        # The services' own checks, as form errors rather than a 500 after "Save".
        cleaned = super().clean() or {}
        expires_at = cleaned.get("expiry_date")
        if self.instance.pk is None and expires_at is not None and expires_at <= timezone.now():
            raise ValidationError({"expiry_date": "The expiry must be in the future."})
        return cleaned


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = (
        "name",
        "prefix",
        "created",
        "expiry_date",
        "revoked",
        "last_used_at",
        "use_count",
    )
    list_filter = ("revoked", "created")
    search_fields = ("name", "prefix")
    ordering = ("-created",)
    actions = ["revoke_selected"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "expiry_date")
        return ("name", "prefix", "created", "expiry_date", "revoked", "last_used_at", "use_count")

    def get_readonly_fields(
        self, request: HttpRequest, obj: ApiKey | None = None
    ) -> tuple[str, ...]:
        if obj is None:
            return ()
        readonly = ("prefix", "created", "revoked", "last_used_at", "use_count")
        # Revoked is final: nothing about a revoked key can be edited.
        return (*readonly, "name", "expiry_date") if obj.revoked else readonly

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        # Keys are revoked, not deleted: a revoked key stays as the record of who had access.
        return False

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        # The form has already applied the services' rules (see ApiKeyForm.clean).
        if change:
            if not obj.revoked:  # a revoked key's page has nothing editable
                api_key_update(api_key=obj, name=obj.name, expires_at=obj.expiry_date)
            return
        created, raw_key = api_key_create(name=obj.name, expires_at=obj.expiry_date)
        # The admin goes on with the instance it gave us (log entry, redirect): make it the new key.
        obj.pk = created.pk
        obj.refresh_from_db()
        obj._state.adding = False
        # Shown on the next page only. Messages travel in a signed cookie (not the database) and
        # are deleted once displayed, so the key is never stored server-side.
        messages.warning(
            request,
            f"The API key for {created.name} is: {raw_key} — copy it now: it will not be shown "
            "again.",
        )

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = already = 0
        for api_key in queryset:
            try:
                api_key_revoke(api_key=api_key)
            except ApiKeyAlreadyRevoked:
                already += 1
            else:
                revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)
        if already:
            self.message_user(request, f"{already} key(s) were already revoked.", messages.INFO)
