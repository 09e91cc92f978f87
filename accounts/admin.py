from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import Cohort, Enrolment, User


@admin.register(User)
class ArtefactUserAdmin(UserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "role", "is_active")
    list_filter = ("role", "is_active", "cohorts")
    fieldsets = (*UserAdmin.fieldsets, ("Artefact", {"fields": ("role",)}))


@admin.register(Cohort)
class CohortAdmin(admin.ModelAdmin):
    filter_horizontal = ("members", "courses")
    search_fields = ("name",)


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "created_at")
    list_filter = ("course",)
    search_fields = ("user__username",)
