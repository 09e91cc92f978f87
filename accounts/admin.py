from axes.utils import reset as axes_reset
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Cohort, Enrolment, ExternalIdentity, Role, User
from accounts.services import user_role_set


@admin.register(User)
class ArtefactUserAdmin(UserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "role", "is_active")
    list_filter = ("role", "is_active", "cohorts")
    fieldsets = (*UserAdmin.fieldsets, ("Artefact", {"fields": ("role",)}))
    # The role is chosen when the account is made: without one a person sees nothing.
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2"),
            },
        ),
        ("Artefact", {"fields": ("role", "first_name", "last_name", "email")}),
    )
    actions = ("sign_in_unlock",)

    def save_related(self, request, form, formsets, change):
        """A role set or changed here grants what the role grants, as everywhere else:
        Django staff flags and the Wagtail groups (after the form's own groups are saved,
        which would otherwise undo them)."""
        super().save_related(request, form, formsets, change)
        if not change or "role" in form.changed_data:
            user_role_set(user=form.instance, role=form.instance.role)

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


def _courses():
    """Course pages only: enrolments and cohorts point at Wagtail pages, and offering every
    lesson and module page as a "course" invites enrolling someone in a lesson. By name, so
    accounts imports no app."""
    course_model = apps.get_model("curriculum", "CurriculumPage")
    return course_model.objects.order_by("title")


class CourseListFilter(admin.SimpleListFilter):
    title = _("course")
    parameter_name = "course"

    def lookups(self, request, model_admin):
        return [(course.pk, course.title) for course in _courses()]

    def queryset(self, request, queryset):
        return queryset.filter(course_id=self.value()) if self.value() else queryset


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    filter_horizontal = ("members", "courses")
    search_fields = ("name",)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "courses":
            kwargs["queryset"] = _courses()
        elif db_field.name == "members":
            kwargs["queryset"] = User.objects.filter(role=Role.RESIDENT).order_by("username")
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "created_at")
    list_filter = (CourseListFilter,)
    search_fields = ("user__username",)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "course":
            kwargs["queryset"] = _courses()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(admin.ModelAdmin):
    """Single sign-on links: an admin may remove one (the next sign-in makes a new account)
    or link a provider's subject to an existing local account by hand."""

    list_display = ("user", "issuer", "subject", "created_at", "last_sign_in_at")
    list_filter = ("issuer",)
    search_fields = ("user__username", "subject")
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "last_sign_in_at")
