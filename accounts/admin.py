"""accounts: Django admin for API keys. The raw key is shown once, on the page after saving;
the list says each key's status, and every time names its time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from rest_framework_api_key.models import APIKey as LibraryAPIKey

from accounts.errors import ApiKeyAlreadyRevoked
from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke, api_key_update

# The library registers an admin for its own (unused) APIKey model; one "API keys" page is enough.
if admin.site.is_registered(LibraryAPIKey):
    admin.site.unregister(LibraryAPIKey)


# Times are shown in the server's time zone, named in each column's title (as in
# "expires (UTC)"), so that the list's cells stay short enough for one line.
_ZONE = settings.TIME_ZONE


def _when(value: datetime | None, *, empty: str = "-", date_only: bool = False) -> str:
    if value is None:
        return empty
    local = timezone.localtime(value)
    moment = local.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M")
    return format_html(
        '<span style="white-space:nowrap" title="{}">{}</span>',
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        moment,
    )


_STATUS_COLOURS = {
    # (text, background): green for a live key, red for one revoked, amber for one expired.
    "Active": ("#116329", "#dff3e3"),
    "Revoked": ("#b0161b", "#fde2e1"),
    "Expired": ("#8a4b00", "#fff0d1"),
}


def _status(api_key: ApiKey) -> str:
    if api_key.revoked:
        return "Revoked"
    return "Expired" if api_key.has_expired else "Active"


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        now = timezone.now()
        live = Q(expiry_date__isnull=True) | Q(expiry_date__gt=now)
        if self.value() == "active":
            return queryset.filter(live, revoked=False)
        if self.value() == "revoked":
            return queryset.filter(revoked=True)
        if self.value() == "expired":
            return queryset.filter(revoked=False, expiry_date__lte=now)
        return queryset


class ApiKeyForm(ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "expiry_date"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "expiry_date" in self.fields:
            self.fields["expiry_date"].help_text = (
                f"Date and time in {timezone.get_current_timezone_name()} (the server's time "
                "zone). Leave empty for a key that does not expire."
            )

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
        "status",
        "created_at",
        "expires",
        "last_used",
        "uses",
    )
    list_filter = (StatusFilter, "created")
    search_fields = ("name", "prefix")
    ordering = ("-created",)
    actions = ["revoke_selected"]

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("name", "expiry_date")
        expiry = "expires" if obj.revoked else "expiry_date"
        return ("name", "prefix", "status", "created_at", expiry, "last_used", "uses")

    def get_readonly_fields(
        self, request: HttpRequest, obj: ApiKey | None = None
    ) -> tuple[str, ...]:
        if obj is None:
            return ()
        readonly = ("prefix", "status", "created_at", "expires", "last_used", "uses")
        # Revoked is final: nothing about a revoked key can be edited.
        return (*readonly, "name") if obj.revoked else readonly

    @admin.display(description="status")
    def status(self, obj: ApiKey) -> str:
        label = _status(obj)
        colour, background = _STATUS_COLOURS[label]
        return format_html(
            '<span style="color:{};background:{};padding:1px 7px;border-radius:9px;'
            'font-weight:600">{}</span>',
            colour,
            background,
            label,
        )

    @admin.display(description="created", ordering="created")
    def created_at(self, obj: ApiKey) -> str:
        return _when(obj.created, date_only=True)  # the full time is its tooltip

    @admin.display(description=f"expires ({_ZONE})", ordering="expiry_date")
    def expires(self, obj: ApiKey) -> str:
        return _when(obj.expiry_date, empty="never")

    @admin.display(description=f"last used ({_ZONE})", ordering="last_used_at")
    def last_used(self, obj: ApiKey) -> str:
        return _when(obj.last_used_at, empty="never")

    @admin.display(description="uses", ordering="use_count")
    def uses(self, obj: ApiKey) -> str:
        return f"{obj.use_count:,}"

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
