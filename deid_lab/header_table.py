"""A DICOM header as rows a person can read and tick, and the difference of two headers.

Paths name elements the way studies.deidentify reports them: the keyword for public
attributes, the tag "(gggg,eeee)" for private ones, and "Sequence[i]." before the
attributes of an item, e.g. "OtherPatientIDsSequence[1].PatientID".
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

_VALUE_DISPLAY_LIMIT = 90
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


@dataclass(frozen=True)
class HeaderRow:
    path: str
    tag: str  # "(0010,0010)"
    name: str  # the dictionary name, or the private creator for private elements
    vr: str
    value: str  # as displayed
    depth: int  # 0 at top level, 1 inside an item of a top-level sequence, ...
    is_private: bool
    is_sequence: bool
    item_label: str = ""  # set on the first row of each sequence item: "Item 1"
    # What the diff compares: the display for text, a digest of the bytes for binary values
    # (two images of the same size display alike).
    content: str = ""


def element_display(elem: DataElement) -> str:
    """A short, readable rendering of one element's value (never the bytes)."""
    if elem.VR == "SQ":
        count = len(elem.value or [])
        return f"{count} item" + ("" if count == 1 else "s")
    if elem.keyword == "PixelData":
        return f"{len(elem.value or b'')} bytes of pixel data (the image above)"
    if elem.VR in _BINARY_VRS:
        return f"{len(elem.value or b'')} bytes"
    if elem.value is None or elem.value == "":
        return ""
    text = str(elem.value) if elem.VM <= 1 else "\\".join(str(v) for v in elem.value)
    return text if len(text) <= _VALUE_DISPLAY_LIMIT else text[: _VALUE_DISPLAY_LIMIT - 1] + "…"


def _element_content(elem: DataElement) -> str:
    if isinstance(elem.value, bytes):
        return hashlib.sha256(elem.value).hexdigest()
    return element_display(elem)


def _element_name(ds: Dataset, elem: DataElement) -> str:
    if not elem.tag.is_private:
        return elem.name
    if elem.tag.element < 0x0100:
        return "Private Creator"
    creator_tag = (elem.tag.group << 16) | (elem.tag.element >> 8)
    creator = str(ds[creator_tag].value) if creator_tag in ds else "unknown creator"
    known = elem.name if not elem.name.startswith("Private tag data") else "private element"
    return f"{known} [{creator}]"


def header_rows(ds: Dataset) -> list[HeaderRow]:
    """Every element of `ds` in tag order, sequences expanded item by item (file meta left out)."""
    rows: list[HeaderRow] = []

    def walk(dataset: Dataset, *, prefix: str, depth: int) -> None:
        for elem in dataset:
            keyword = elem.keyword or str(elem.tag)
            path = f"{prefix}{keyword}"
            rows.append(
                HeaderRow(
                    path=path,
                    tag=str(elem.tag),
                    name=_element_name(dataset, elem),
                    vr=elem.VR,
                    value=element_display(elem),
                    depth=depth,
                    is_private=elem.tag.is_private,
                    is_sequence=elem.VR == "SQ",
                    content=_element_content(elem),
                )
            )
            if elem.VR == "SQ":
                for index, item in enumerate(elem.value or []):
                    start = len(rows)
                    walk(item, prefix=f"{path}[{index}].", depth=depth + 1)
                    if len(rows) > start:
                        rows[start] = replace(rows[start], item_label=f"Item {index + 1}")

    walk(ds, prefix="", depth=0)
    return rows


@dataclass(frozen=True)
class DiffRow:
    path: str
    tag: str
    name: str
    before: str
    after: str
    change: str  # "removed", "emptied", "changed", "kept", "added"


def header_diff(before: Dataset, after: Dataset) -> list[DiffRow]:
    """Element by element: what de-identification did, in the order of the original header.

    Sequences appear as their items' elements; elements only in `after` (the method record)
    follow at the end.
    """
    old = {row.path: row for row in header_rows(before) if not row.is_sequence}
    new = {row.path: row for row in header_rows(after) if not row.is_sequence}
    diff = []
    for path, row in old.items():
        if path not in new:
            change, after_value = "removed", ""
        else:
            after_value = new[path].value
            if new[path].content == row.content:
                change = "kept"
            elif after_value == "":
                change = "emptied"
            else:
                change = "changed"
        diff.append(DiffRow(path, row.tag, row.name, row.value, after_value, change))
    for path, row in new.items():
        if path not in old:
            diff.append(DiffRow(path, row.tag, row.name, "", row.value, "added"))
    return diff
