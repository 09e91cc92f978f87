from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, roles and cohorts"

    def ready(self):
        from django.db.models.signals import post_migrate

        from accounts.authoring import educator_authoring_grant

        post_migrate.connect(educator_authoring_grant, dispatch_uid="educator_authoring_grant")

        # Register this app's access rules (accounts.permissions) at start-up.
        from accounts import rules  # noqa: F401
