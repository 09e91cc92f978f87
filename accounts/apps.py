from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, roles and cohorts"

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save

        from accounts.authoring import educator_authoring_grant

        post_migrate.connect(educator_authoring_grant, dispatch_uid="educator_authoring_grant")

        # An enrolment or cohort changed during a request: what the request remembered of
        # enrolments is stale (accounts.request_memo).
        from accounts.models import Cohort, Enrolment
        from accounts.request_memo import request_memo_forget

        for model in (Enrolment, Cohort):
            for signal in (post_save, post_delete):
                signal.connect(
                    request_memo_forget,
                    sender=model,
                    dispatch_uid=f"request-memo-{model.__name__}-{signal!r}",
                )
        for through in (Cohort.members.through, Cohort.courses.through):
            m2m_changed.connect(
                request_memo_forget, sender=through, dispatch_uid=f"request-memo-{through!r}"
            )

        # Register this app's access rules (accounts.permissions) at start-up.
        from accounts import rules  # noqa: F401
