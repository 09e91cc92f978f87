"""The one CSV writer every export uses (gradebook, measure-it cases and summaries, ...).

A spreadsheet opening a CSV runs a cell that starts with `=`, `+`, `-` or `@` as a formula
(and tab or carriage return can smuggle one past a first look), so a resident who names a
cohort condition or their account `=HYPERLINK(...)` could make an educator's spreadsheet
fetch a URL or run a command ("CSV injection", OWASP). Text cells that start so are
prefixed with a single quote, which spreadsheets show but never evaluate; numbers (a
negative HU value, an intercept of -1024) are left as numbers. It lives in `accounts`, the
lowest layer, so that every app with an export may import it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Protocol

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number, as Python or a spreadsheet writes it: "-1024", "+0.5", "1e-06".
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def csv_cell(value: Any) -> Any:
    """The value as an export writes it: numbers unchanged, text that a spreadsheet would
    evaluate as a formula prefixed with a quote."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


class SpreadsheetSafeWriter:
    """`csv.writer` with every cell passed through `csv_cell` first."""

    def __init__(self, stream: _Writable) -> None:
        self._writer = csv.writer(stream)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([csv_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream: _Writable) -> SpreadsheetSafeWriter:
    """The writer for every CSV the platform exports (tests/test_csv_export.py checks that no
    exporter calls `csv.writer` directly)."""
    return SpreadsheetSafeWriter(stream)
