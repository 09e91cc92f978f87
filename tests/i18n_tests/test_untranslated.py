"""The shipped German locale translates every interface string.

The sources are extracted afresh (makemessages, into a copy of locale/), so a string marked
for translation but missing from the shipped .po fails here as well as an empty, fuzzy or
unchanged msgstr.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from config.i18n import MAKEMESSAGES_IGNORE
from tests.i18n_tests.po import po_read, untranslated

SHIPPED = Path(settings.BASE_DIR) / "locale"
# A msgstr may equal its msgid only where German uses the very same word; each with why.
IDENTICAL_IN_GERMAN = {
    "DICOM": "the standard's name",
    "PACS": "the acronym is used in German radiology as is",
    "Status": "the same word in German",
    "Name": "the same word in German",
    "Module": "the German plural of Modul",
    "Quiz": "the same word in German",
    "Quiz:": "the same word in German",
    "Video": "the same word in German",
    "Original": "the same word in German",
    "Ellipse": "the same word in German (the viewer's ellipse ROI tool)",
    "Problem": "the same word in German",
    "Server": "the same word in German",
    "Label": "the machine-learning term, used in German as is",
    "Tag": "the DICOM term (a data element's tag), kept in German texts",
    "Clean Pixel Data:": "the name of a DICOM PS3.15 option, quoted as the standard spells it",
    "Score %(score)s": "Score is the word German radiology uses for an AI score",
    "%(name)s in %(title)s": "only placeholders and the preposition, the same in German",
}


def test_the_shipped_german_locale_has_no_untranslated_string():
    problems = untranslated(
        po_read(SHIPPED / "de" / "LC_MESSAGES" / "django.po"),
        identical_allowed=IDENTICAL_IN_GERMAN,
    )
    assert not problems, f"{len(problems)} untranslated German strings:\n" + "\n".join(problems)


def test_every_string_in_the_sources_is_in_the_german_locale(tmp_path, monkeypatch):
    """makemessages over today's sources adds nothing untranslated to the shipped .po."""
    if shutil.which("xgettext") is None:
        pytest.fail("gettext is missing: scripts/bootstrap.sh installs it")
    copy = tmp_path / "locale"
    shutil.copytree(SHIPPED, copy, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.chdir(settings.BASE_DIR)
    with override_settings(LOCALE_PATHS=[copy]):
        call_command(
            "makemessages", locale=["de"], ignore_patterns=MAKEMESSAGES_IGNORE, verbosity=0
        )
    problems = untranslated(
        po_read(copy / "de" / "LC_MESSAGES" / "django.po"),
        identical_allowed=IDENTICAL_IN_GERMAN,
    )
    assert not problems, (
        f"{len(problems)} strings are not translated into German; run `make messages`, "
        "translate locale/de/LC_MESSAGES/django.po:\n" + "\n".join(problems)
    )
