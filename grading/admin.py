from django.contrib import admin

from grading.models import AuditEntry, Certificate


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only (see AuditEntry), also in the admin."""

    list_display = ("at", "action", "actor", "assessment", "response", "reason")
    list_filter = ("action",)
    readonly_fields = [field.name for field in AuditEntry._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    """Issued certificates, to look one up or confirm a code; what a certificate states is
    frozen at issue, so it cannot be edited here (revoking is deleting)."""

    list_display = ("holder_name", "course_title", "issued_at", "code")
    list_filter = ("course_title",)
    search_fields = ("holder_name", "code", "user__username")
    date_hierarchy = "issued_at"
    readonly_fields = [field.name for field in Certificate._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
