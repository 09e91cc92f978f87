"""Who may read the platform's operational metrics (config.ops, /metrics).

Programme admins, signed in; and a scraper (Prometheus) that presents METRICS_TOKEN, which
config.ops checks and passes here as `token_valid`. The metrics hold no personal data, but
queue depths and failure counts are still nobody else's business.
Registered at start-up by RunsConfig.ready(); asked through accounts.permissions.
"""

from __future__ import annotations

from accounts import roles
from accounts.permissions import rule


@rule("runs.view_metrics")
def may_view_metrics(user, _obj=None, *, token_valid: bool = False) -> bool:
    return token_valid or roles.is_admin(user)
