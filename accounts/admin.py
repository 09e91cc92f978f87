from axes.utils import reset as axes_reset
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Cohort, Enrolment, User


@admin.register(User)
class ArtefactUserAdmin(UserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "role", "is_active")
    list_filter = ("role", "is_active", "cohorts")
    fieldsets = (*UserAdmin.fieldsets, ("Artefact", {"fields": ("role",)}))
    actions = ("sign_in_unlock",)

    @admin.action(description=_("Allow sign-in again (clear failed-login lockouts)"))
    def sign_in_unlock(self, request, queryset):
        """Clears the failed-login counts of the chosen accounts from every address; the
        failures stay listed under Axes (access failures) for the record."""
        cleared = sum(axes_reset(username=user.username) for user in queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)d failed-login record cleared.",
                "%(count)d failed-login records cleared.",
                cleared,
            )
            % {"count": cleared},
            messages.SUCCESS,
        )


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    filter_horizontal = ("members", "courses")
    search_fields = ("name",)


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "created_at")
    list_filter = ("course",)
    search_fields = ("user__username",)
