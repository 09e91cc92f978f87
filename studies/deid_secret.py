"""The secret that keys de-identification of uploaded studies (UID remapping and date
shift, PS3.15 E.3.6): settings.DEID_SECRET, never SECRET_KEY.

Where DEID_SECRET is not set, the secret recorded in settings.DEID_SECRET_FILE is used; the
first de-identification records one there. A new installation records a random value. An
installation that already holds uploaded or imported studies was keyed, before this
setting existed, by SECRET_KEY: it records that value, so a study sent again maps to the
study already stored instead of becoming a second copy. Production settings demand
DEID_SECRET (or a recorded file) before the site starts.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from studies.models import Study, StudyOrigin


def deid_secret() -> str:
    """The de-identification key: DEID_SECRET, else the recorded one (recorded on first use)."""
    if settings.DEID_SECRET:
        return settings.DEID_SECRET
    return _recorded(Path(settings.DEID_SECRET_FILE)) or deid_secret_record()


def deid_secret_record() -> str:
    """Record the de-identification key in DEID_SECRET_FILE unless one is recorded already;
    return the key in force. Safe against two processes doing it at once: the file appears
    whole (hard link of a finished temporary file) and the first one wins."""
    path = Path(settings.DEID_SECRET_FILE)
    recorded = _recorded(path)
    if recorded:
        return recorded
    if Study.objects.exclude(origin=StudyOrigin.LIBRARY).exists():
        # Studies stored before this setting existed were keyed with SECRET_KEY.
        value = settings.SECRET_KEY
    elif settings.PRODUCTION:
        raise ImproperlyConfigured("DEID_SECRET must be set when ARTEFACT_ENV=production.")
    else:
        value = secrets.token_urlsafe(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".deid-secret-")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(value + "\n")
        os.link(temporary, path)
    except FileExistsError:
        return _recorded(path) or value
    finally:
        os.unlink(temporary)
    return value


def _recorded(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""
