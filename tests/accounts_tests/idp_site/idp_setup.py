"""Makes the provider's database: migrations, a signing key, the people (JSON on stdin:
{"people": [{username, password, first_name, last_name, email}], "client": {client_id,
client_secret, redirect_uri}})."""

import json
import sys

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from oidc_provider.models import Client, ResponseType  # noqa: E402

spec = json.load(sys.stdin)
call_command("migrate", verbosity=0)
call_command("creatersakey")
for person in spec["people"]:
    User.objects.create_user(**person)
client = Client.objects.create(
    name="Artefact",
    client_type="confidential",
    client_id=spec["client"]["client_id"],
    client_secret=spec["client"]["client_secret"],
    jwt_alg="RS256",
    require_consent=True,
    reuse_consent=False,
)
client.redirect_uris = [spec["client"]["redirect_uri"]]
client.save()
client.response_types.add(ResponseType.objects.get(value="code"))
