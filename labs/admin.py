from django.contrib import admin

from labs.models import LabRun


@admin.register(LabRun)
class LabRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "exercise", "user", "status", "attempts", "created_at", "finished_at")
    list_filter = ("status", "exercise")
    readonly_fields = [field.name for field in LabRun._meta.fields]
