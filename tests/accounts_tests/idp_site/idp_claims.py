"""What the provider says about a person: the standard claims from the Django user, and
the role and cohort claims of the "artefact" scope from the claims file the test writes
(IDP_DIR/claims.json, {username: {claim: value}}), read at every request so that a test
can change a person's role between two sign-ins."""

import json
import os
from pathlib import Path

from oidc_provider.lib.claims import ScopeClaims


def userinfo(claims, user):
    claims["preferred_username"] = user.username
    claims["given_name"] = user.first_name
    claims["family_name"] = user.last_name
    claims["email"] = user.email
    return claims


class ArtefactScopeClaims(ScopeClaims):
    info_artefact = ("Artefact", "Your role and cohort in the programme.")

    def scope_artefact(self):
        path = Path(os.environ["IDP_DIR"]) / "claims.json"
        every = json.loads(path.read_text()) if path.exists() else {}
        return every.get(self.user.username, {})
