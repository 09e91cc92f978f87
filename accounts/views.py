"""Pages of the accounts app beyond sign-in: a programme admin's enrolment from a CSV."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from accounts import permissions, services
from accounts.enrolment_csv import (
    COLUMNS,
    MAX_CSV_BYTES,
    MAX_CSV_ROWS,
    CsvRefused,
    enrolment_csv_plan,
)


def _done_message(plan) -> str:
    enrolments = ngettext(
        "%(count)d new course enrolment", "%(count)d new course enrolments", plan.enrolment_count
    ) % {"count": plan.enrolment_count}
    memberships = ngettext(
        "%(count)d new cohort membership",
        "%(count)d new cohort memberships",
        plan.membership_count,
    ) % {"count": plan.membership_count}
    return _("Enrolled from the CSV: %(enrolments)s, %(memberships)s.") % {
        "enrolments": enrolments,
        "memberships": memberships,
    }


@login_required
@require_http_methods(["GET", "POST"])
def enrolment_import(request):
    """Upload a CSV and see, row by row, what it would do (nothing is written); confirm to
    enrol every row, which reads the file again and writes all rows or none."""
    if not permissions.may(request.user, "accounts.import_enrolments"):
        raise PermissionDenied(_("Only programme admins enrol people from a CSV."))
    plan = None
    error = ""
    content = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        confirmed = request.POST.get("content")
        try:
            if confirmed is not None:
                content = confirmed
                plan = services.enrolments_import(content=confirmed.encode("utf-8"))
                if plan.ok:
                    messages.success(request, _done_message(plan))
                    return redirect("enrolment_import")
            elif upload is None:
                error = _("Choose a CSV file to read.")
            else:
                # One byte past the limit is enough for the plan to refuse an oversized file.
                raw = upload.read(MAX_CSV_BYTES + 1)
                plan = enrolment_csv_plan(content=raw)
                content = raw.decode("utf-8-sig")
        except CsvRefused as refusal:
            error = str(refusal)
            plan = None
    return render(
        request,
        "accounts/enrolment_import.html",
        {
            "plan": plan,
            "error": error,
            # Carried to the confirmation only when every row can be done.
            "content": content if plan is not None and plan.ok else "",
            "columns": COLUMNS,
            "max_kb": MAX_CSV_BYTES // 1024,
            "max_rows": MAX_CSV_ROWS,
        },
        status=400 if error or (plan is not None and not plan.ok) else 200,
    )
