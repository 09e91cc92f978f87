from django.contrib import admin

from evaluation.models import CohortRun


@admin.register(CohortRun)
class CohortRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "exercise", "user", "kind", "status", "progress_percent", "created_at")
    list_filter = ("status", "kind")
    readonly_fields = ("summary", "conditions")
