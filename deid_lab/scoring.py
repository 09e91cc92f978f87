"""Scoring step 1 of the lab: the places the resident ticked against the places PHI was planted.

Every planted location is a target (a location holding several identifiers counts once).
A ticked row that is no target is either *listed*: PS3.15 Table E.1-1 (or the rule for
private attributes) acts on it, so suspecting it is defensible though it holds nothing
identifying here, or a *false alarm*: the profile keeps it because it describes the
acquisition, not the person.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deid_lab.header_table import HeaderRow
from deid_lab.seeding import PIXEL_DATA, seeded_locations
from studies.deidentify import BASIC_PROFILE_RULES, SAFE_PRIVATE_ATTRIBUTES

# Why some attributes residents often suspect are not identifying.
_NOT_IDENTIFYING_WHY = {
    "Modality": "the kind of scanner, shared by millions of studies",
    "Manufacturer": "the vendor, shared by thousands of scanners",
    "ManufacturerModelName": "the scanner model, shared by many sites",
    "SOPClassUID": "a UID defined by the standard for every CT image, not an instance UID",
    "ImageType": "how the image was made",
    "Rows": "the image matrix size",
    "Columns": "the image matrix size",
    "BurnedInAnnotation": "a flag about the pixels; the flag itself names no one (but check "
    "the pixels: it may be wrong)",
    "PatientPosition": "how the patient lay on the table (feet first, supine)",
    "PixelSpacing": "the size of a pixel",
    "SliceThickness": "an acquisition parameter",
    "KVP": "an acquisition parameter",
    "ConvolutionKernel": "the reconstruction kernel",
    "SoftwareVersions": "the scanner software version",
}


@dataclass(frozen=True)
class Verdict:
    path: str
    label: str  # what a reader sees: the element name, or the identifiers held there
    explanation: str


@dataclass
class FindingScore:
    found: list[Verdict] = field(default_factory=list)
    missed: list[Verdict] = field(default_factory=list)
    listed: list[Verdict] = field(default_factory=list)
    false_alarms: list[Verdict] = field(default_factory=list)

    @property
    def targets(self) -> int:
        return len(self.found) + len(self.missed)

    def to_json(self) -> dict:
        return {
            name: [v.__dict__ for v in getattr(self, name)]
            for name in ("found", "missed", "listed", "false_alarms")
        }

    @classmethod
    def from_json(cls, data: dict) -> FindingScore:
        return cls(
            **{
                name: [Verdict(**v) for v in data.get(name, [])]
                for name in cls.__dataclass_fields__
            }
        )


class UnknownFinding(ValueError):
    """A ticked path that is not a row of the header shown."""


_UNDECLARED_TRAP = (
    " Here the header says Burned In Annotation NO, yet the pixels carry a name and an MRN: "
    "the flag is written by whoever made the image and may be wrong; look at the pixels."
)


def findings_score(
    *, ticked: set[str], rows: list[HeaderRow], variant: str = "declared"
) -> FindingScore:
    """Compare the ticked element paths with the planted locations (see the module doc)."""
    by_path = {row.path: row for row in rows}
    unknown = sorted(ticked - set(by_path))
    if unknown:
        raise UnknownFinding(", ".join(unknown))
    score = FindingScore()
    for location, items in seeded_locations().items():
        row = by_path[location]
        label = f"{row.name} — " + "; ".join(item.label for item in items)
        explanation = " ".join(item.why for item in items)
        if location == PIXEL_DATA and variant == "undeclared":
            explanation += _UNDECLARED_TRAP
        target = score.found if location in ticked else score.missed
        target.append(Verdict(location, label, explanation))
    planted = set(seeded_locations())
    for path in sorted(ticked - planted, key=list(by_path).index):
        row = by_path[path]
        verdict = _untargeted_verdict(row, rows=rows)
        (score.listed if verdict[0] else score.false_alarms).append(
            Verdict(path, row.name, verdict[1])
        )
    return score


def _untargeted_verdict(row: HeaderRow, *, rows: list[HeaderRow]) -> tuple[bool, str]:
    """(listed by the profile?, why) for a ticked row that holds nothing planted."""
    keyword = row.path.rsplit(".", 1)[-1]
    if row.is_private:
        safe = _private_safe_meaning(row, rows=rows)
        if safe:
            return False, (
                f"{safe}: PS3.15 Table E.3.10-1 lists it as a safe private attribute, kept by "
                "the Retain Safe Private option."
            )
        return True, (
            "Private attributes are removed by the Basic Profile (E.1.1); this one holds "
            "nothing identifying here, but suspecting an unknown private element is right."
        )
    tag = int(row.tag.strip("()").replace(",", ""), 16)
    rule = BASIC_PROFILE_RULES.get(tag)
    if rule is not None:
        return True, (
            f"Table E.1-1 lists {rule.name} (action {rule.action}); it holds nothing "
            "identifying in this study, but the profile treats it as a risk."
        )
    why = _NOT_IDENTIFYING_WHY.get(keyword, "it describes the image or the acquisition")
    return False, f"Not identifying: {why}. PS3.15 keeps it (not in Table E.1-1)."


def _private_safe_meaning(row: HeaderRow, *, rows: list[HeaderRow]) -> str | None:
    group = int(row.tag[1:5], 16)
    element = int(row.tag[6:10], 16)
    if element < 0x1000:
        # A private creator: safe when its block holds only safe elements.
        creator = row.value
        return (
            f"Private Creator {creator}"
            if any(g == group and c == creator for g, c, _o in SAFE_PRIVATE_ATTRIBUTES)
            else None
        )
    creator = row.name.rsplit("[", 1)[-1].rstrip("]")
    return SAFE_PRIVATE_ATTRIBUTES.get((group, creator, element & 0xFF))
