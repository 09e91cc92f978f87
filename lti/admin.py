"""Admins register platforms in django-lti's own admin (LTI tool > registrations, with their
deployments); here: the score outbox (what waits, why, what the platform answered; a failed
score can be offered again), where each LMS course is placed, and the spent nonces."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from lti.models import CourseLink, GradeLink, ScoreOutbox
from runs.models import RunStatus
from runs.services import run_offer_again


@admin.register(ScoreOutbox)
class ScoreOutboxAdmin(admin.ModelAdmin):
    list_display = ("pk", "event_key", "status", "send_tries", "platform_status", "next_attempt_at")
    list_filter = ("status",)
    readonly_fields = [field.name for field in ScoreOutbox._meta.fields]
    actions = ("send_again",)

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Send the failed scores again"))
    def send_again(self, request, queryset):
        offered = sum(
            run_offer_again(run=row, from_statuses=(RunStatus.FAILED,), next_attempt_at=None)
            for row in queryset
        )
        self.message_user(
            request, _("%(n)d scores queued again.") % {"n": offered}, messages.SUCCESS
        )


@admin.register(CourseLink)
class CourseLinkAdmin(admin.ModelAdmin):
    list_display = ("context", "course")


@admin.register(GradeLink)
class GradeLinkAdmin(admin.ModelAdmin):
    list_display = ("lti_user", "assessment", "lineitem_url")
    raw_id_fields = ("lti_user", "assessment")
