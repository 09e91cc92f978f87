"""Course content in other languages, as Wagtail translations of the shipped pages.

A translation is a page of the same type with the same translation_key in another
wagtail.models.Locale (Wagtail's built-in localisation, WAGTAIL_I18N_ENABLED), so an editor
finds it beside its source in the admin. The translations are kept in a tree of their own,
one holder page per language under the root, that no site routes to: every reader opens the
default language's pages at the same URLs, and a page whose translation exists in the
active language shows that translation's text (`page_text_localize`, run before a page is
served). Completions, lab runs, quiz attempts, prerequisites and progress therefore belong
to the one page every language shares, and a translated lesson keeps its labs and quizzes:
its lab and quiz blocks name the same exercises and assessments as its source.

The text comes from files beside the English ones (docs/i18n.md):

    content/<NN>-<module>/<language>/module.toml         title, summary, outcomes (texts)
    content/<NN>-<module>/<language>/<NN>-<lesson>.toml   slug, title, summary, outcomes,
                                                          and [[body]] in the source's order

A body entry gives the words of the English block at the same position (quiz blocks, which
the loader adds, are not counted): `text` -> html; `callout` -> title, html; a lab or
another exercise block -> introduction; `viewer` -> caption; `references` -> heading.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import get_language
from wagtail.coreutils import get_supported_content_language_variant
from wagtail.models import Locale, Page

from curriculum.content import CONTENT_DIR, EXERCISE_BLOCKS, ContentError, course_read
from curriculum.models import CurriculumIndexPage, CurriculumPage, LessonPage, ModulePage
from curriculum.services import _html_clean

# The fields a translation supplies when its page is served; the rest (slug, settings,
# prerequisites) is the source page's.
TEXT_FIELDS = ("title", "seo_title", "search_description", "summary", "introduction", "body")
# English block type (as stored) -> (type in the translation file, {file key: block key}).
BODY_TEXT = {
    "paragraph": ("text", {"html": None}),
    "callout": ("callout", {"title": "title", "html": "text"}),
    "viewer": ("viewer", {"caption": "caption"}),
    "references": ("references", {"heading": "heading"}),
    "lab": ("lab", {"introduction": "introduction"}),
    **{kind: (kind, {"introduction": "introduction"}) for kind in EXERCISE_BLOCKS},
}
HTML_KEYS = {"html"}


@dataclass
class TranslationReport:
    written: list[str] = field(default_factory=list)


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ContentError(f"{path}: {error}") from error


def translations_holder_ensure(locale: Locale) -> Page:
    """The unpublished page under the root that holds a language's translations."""
    root = Page.get_first_root_node()
    slug = f"translations-{locale.language_code}"
    holder = root.get_children().filter(slug=slug).first()
    if holder is None:
        holder = Page(title=f"Translations ({locale.language_code})", slug=slug, locale=locale)
        holder.live = False
        root.add_child(instance=holder)
    return holder


def _translation_ensure(source: Page, *, parent: Page, locale: Locale) -> Page:
    existing = source.get_translation_or_none(locale)
    if existing is not None:
        return existing.specific
    made = source.copy(
        to=parent,
        update_attrs={"locale": locale},
        reset_translation_key=False,
        copy_revisions=False,
        keep_live=True,
        log_action=None,
    )
    return made.specific


def _outcomes_translated(page, texts: list[str], where: Path):
    sources = list(page.outcomes.all())
    if len(texts) != len(sources):
        raise ContentError(f"{where}: {len(texts)} outcomes, the source has {len(sources)}")
    translated = []
    for outcome, text in zip(sources, texts, strict=True):
        outcome = copy.copy(outcome)
        outcome.pk = outcome.id = None
        outcome.text = text
        translated.append(outcome)
    return translated


def _body_translated(source: LessonPage, entries: list[dict], where: Path) -> list[dict]:
    """The source's stored blocks with the words of `entries`; everything else kept."""
    raw = [dict(block) for block in source.body.raw_data]
    pending = list(entries)
    for position, block in enumerate(raw):
        if block["type"] == "quiz":
            continue  # added by the loader, not in the files
        kind, keys = BODY_TEXT.get(block["type"], (block["type"], {}))
        # A viewer whose study the library lacks was left out of the source: skip its words.
        while pending and pending[0].get("type") == "viewer" and kind != "viewer":
            pending.pop(0)
        if not pending or pending[0].get("type") != kind:
            found = pending[0].get("type") if pending else "nothing"
            raise ContentError(
                f"{where}: block {position + 1} of the source is {kind!r}, the file has {found!r}"
            )
        entry = pending.pop(0)
        if block["type"] == "paragraph":
            block["value"] = _html_clean(entry["html"])
            continue
        value = dict(block["value"])
        for file_key, block_key in keys.items():
            if file_key in entry:
                text = entry[file_key]
                value[block_key] = _html_clean(text) if file_key in HTML_KEYS else text
        block["value"] = value
    if any(entry.get("type") != "viewer" for entry in pending):
        raise ContentError(f"{where}: {len(pending)} body entries more than the source's blocks")
    return raw


def _publish(page: Page, report: TranslationReport, label: str) -> None:
    page.save_revision().publish()
    report.written.append(label)


@transaction.atomic
def curriculum_translations_load(*, content_dir: Path = CONTENT_DIR) -> TranslationReport:
    """Write the translations in content/ as Wagtail translations of the loaded pages.

    Run after curriculum_content_load; pages not loaded yet are skipped. Translations are
    rewritten from the files on every load (their editors are the files' reviewers).
    """
    report = TranslationReport()
    spec = course_read(content_dir)
    index = CurriculumIndexPage.objects.first()
    course = (
        CurriculumPage.objects.child_of(index).filter(slug=spec.slug).first() if index else None
    )
    if course is None:
        return report
    for code, _name in settings.LANGUAGES:
        if code == settings.LANGUAGE_CODE:
            continue
        locale, _created = Locale.objects.get_or_create(language_code=code)
        holder = translations_holder_ensure(locale)
        for module_spec in spec.modules:
            folder = module_spec.path.parent / code
            module = ModulePage.objects.child_of(course).filter(slug=module_spec.slug).first()
            if not (folder / "module.toml").exists() or module is None:
                continue
            data = _read(folder / "module.toml")
            translated_module = _translation_ensure(module, parent=holder, locale=locale)
            translated_module.title = data["title"]
            translated_module.summary = data.get("summary", "")
            translated_module.outcomes = _outcomes_translated(
                module, data.get("outcomes", []), folder / "module.toml"
            )
            _publish(translated_module, report, f"{module_spec.slug} ({code})")
            for path in sorted(folder.glob("[0-9]*.toml")):
                data = _read(path)
                lesson = LessonPage.objects.child_of(module).filter(slug=data.get("slug")).first()
                if lesson is None:
                    continue
                translated = _translation_ensure(lesson, parent=translated_module, locale=locale)
                translated.title = data["title"]
                translated.summary = data.get("summary", "")
                translated.outcomes = _outcomes_translated(lesson, data.get("outcomes", []), path)
                translated.body = _body_translated(lesson, data.get("body", []), path)
                _publish(translated, report, f"{module_spec.slug}/{lesson.slug} ({code})")
    return report


def page_text_localize(page: Page) -> None:
    """Give the page being served the text of its translation in the active language.

    The page object is changed in memory only (never saved): it stays the page every
    language shares, with its id, its place in the tree and its labs and quizzes.
    """
    if not getattr(settings, "WAGTAIL_I18N_ENABLED", False):
        return
    # Routed pages are the default language's: a reader in it costs no query here.
    if get_supported_content_language_variant(get_language()) == settings.LANGUAGE_CODE:
        return
    locale = Locale.get_active()
    if page.locale_id == locale.pk:
        return
    translation = page.get_translation_or_none(locale)
    if translation is None or not translation.live:
        return
    translation = translation.specific
    for name in TEXT_FIELDS:
        if hasattr(page, name) and hasattr(translation, name):
            setattr(page, name, getattr(translation, name))
    if hasattr(page, "outcomes") and hasattr(translation, "outcomes"):
        page.outcomes = [copy.copy(outcome) for outcome in translation.outcomes.all()]
