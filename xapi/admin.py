"""Admins see the outbox: what waits, why, and what the LRS answered; failed statements
can be offered again (a statement the LRS rejected, after the LRS or the data was fixed)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from runs.models import RunStatus
from runs.services import run_offer_again
from xapi.models import StatementOutbox


@admin.register(StatementOutbox)
class StatementOutboxAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "event",
        "status",
        "send_tries",
        "lrs_status",
        "next_attempt_at",
        "created_at",
        "finished_at",
        "progress_message",
    )
    list_filter = ("status", "event", "lrs_status")
    search_fields = ("statement_id",)
    readonly_fields = [field.name for field in StatementOutbox._meta.fields]
    actions = ("send_again",)

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Send the failed statements again"))
    def send_again(self, request, queryset):
        offered = sum(
            run_offer_again(run=row, from_statuses=(RunStatus.FAILED,), next_attempt_at=None)
            for row in queryset
        )
        self.message_user(
            request, _("%(n)d statements queued again.") % {"n": offered}, messages.SUCCESS
        )
