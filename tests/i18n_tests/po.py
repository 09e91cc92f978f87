"""A small reader of gettext .po files (the subset makemessages writes), for the tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Entry:
    msgid: str = ""
    msgid_plural: str = ""
    msgctxt: str | None = None
    msgstr: list[str] = field(default_factory=list)  # one, or one per plural form
    flags: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        where = self.references[0] if self.references else "?"
        return f"{self.msgid!r} ({where})"


def _quoted(text: str) -> str:
    # A .po string's escapes (\n, \t, \", \\) are JSON's.
    return json.loads(text)


def po_read(path: Path) -> list[Entry]:
    """Every live entry of the file (not the header, not obsolete #~ entries)."""
    entries: list[Entry] = []
    entry = Entry()
    key = None
    started = False

    def close():
        nonlocal entry, key, started
        if started and entry.msgid:
            entries.append(entry)
        entry, key, started = Entry(), None, False

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            close()
        elif line.startswith("#~"):
            continue
        elif line.startswith("#,"):
            entry.flags |= {flag.strip() for flag in line[2:].split(",")}
        elif line.startswith("#:"):
            entry.references += line[2:].split()
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = _quoted(line)
            if key == "msgid":
                entry.msgid += value
            elif key == "msgid_plural":
                entry.msgid_plural += value
            elif key == "msgctxt":
                entry.msgctxt = (entry.msgctxt or "") + value
            elif key is not None:
                entry.msgstr[key] += value
        else:
            name, _, rest = line.partition(" ")
            started = True
            if name in ("msgid", "msgid_plural"):
                key = name
                setattr(entry, name, _quoted(rest))
            elif name == "msgctxt":
                key = name
                entry.msgctxt = _quoted(rest)
            elif name.startswith("msgstr"):
                entry.msgstr.append(_quoted(rest))
                key = len(entry.msgstr) - 1
    close()
    return entries


def untranslated(entries: list[Entry], *, identical_allowed: dict[str, str]) -> list[str]:
    """Entries a German reader would see in English: no msgstr (or an empty plural form),
    fuzzy, or a msgstr equal to its msgid unless the allow-list names it (with a reason)."""
    problems = []
    for entry in entries:
        if "fuzzy" in entry.flags:
            problems.append(f"fuzzy: {entry.label}")
        elif not entry.msgstr or not all(text.strip() for text in entry.msgstr):
            problems.append(f"empty: {entry.label}")
        elif entry.msgstr[0] == entry.msgid and entry.msgid not in identical_allowed:
            problems.append(f"same as English: {entry.label}")
    return problems
