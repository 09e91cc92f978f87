"""An uploaded QTI 2.1 content package -> question drafts, or why not.

The zip is read in memory, never extracted: a member whose name is absolute, climbs out
with '..', uses backslashes or is a link refuses the whole package (zip slip); so do more
than MAX_MEMBERS members, a declared size past MAX_TOTAL_BYTES, or a member whose
compression ratio passes MAX_RATIO (zip bomb); and every member is read through a bounded
read, so a size that lies in the directory costs at most MAX_XML_BYTES + 1 bytes.

XML is parsed by lxml with entity resolution, DTD loading and network access off, and a
document with a DOCTYPE is refused (QTI needs none; XXE and entity expansion need one).

Items are read from the standard QTI first (a choice item from another system imports
without our extension); Artefact's extension in the manifest adds the kind where QTI is
ambiguous, the tags, the study and SEG references of image questions and the scoring
parameters.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from lxml import etree

from assessments.models import Difficulty, QuestionKind
from assessments.qti import CP_NS, EXT_NS, ITEM_RESOURCE_TYPE, MANIFEST_NAME, QTI_NS
from assessments.qti.rich_text import inner_html, plain_text, qti_to_html
from assessments.qti.writer import IMAGE_REFERENCE_KEYS, STANDARD_KEYS

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_MEMBERS = 5000
MAX_TOTAL_BYTES = 200 * 1024 * 1024
MAX_XML_BYTES = 2 * 1024 * 1024
MAX_RATIO = 200
MAX_ITEMS = 2000
Q = {"q": QTI_NS}
INTERACTIONS = frozenset(
    {
        "choiceInteraction",
        "textEntryInteraction",
        "extendedTextInteraction",
        "selectPointInteraction",
        "drawingInteraction",
    }
)


class PackageRefused(ValueError):
    """The package as a whole cannot be read safely; the message says why."""


class ItemUnreadable(ValueError):
    """One item cannot become a question; the message says why."""


@dataclass
class QuestionDraft:
    source: str  # the item's file in the package
    identifier: str
    title: str
    kind: str
    prompt: str
    data: dict
    explanation: str = ""
    max_points: float = 1.0
    difficulty: str = Difficulty.MEDIUM
    outcome: str = ""
    pool: str = ""


@dataclass
class ItemProblem:
    source: str  # the item's file in the package
    title: str
    message: str


@dataclass
class PackageContents:
    drafts: list[QuestionDraft] = field(default_factory=list)
    problems: list[ItemProblem] = field(default_factory=list)


def _member_name_safe(info: zipfile.ZipInfo) -> bool:
    name = info.filename
    if not name or "\\" in name or "\x00" in name or name.startswith("/"):
        return False
    if len(name) > 1 and name[1] == ":":  # a Windows drive
        return False
    if any(part in ("..", "") for part in PurePosixPath(name).parts):
        return False
    mode = info.external_attr >> 16
    return not stat.S_ISLNK(mode)


def package_open(content: bytes) -> zipfile.ZipFile:
    """The zip, checked for slip and bomb shapes; raises PackageRefused."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise PackageRefused(f"The package is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise PackageRefused("This is not a zip file (a QTI content package is one).") from None
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise PackageRefused(f"The package has more than {MAX_MEMBERS} files.")
    total = 0
    for info in members:
        if not _member_name_safe(info):
            raise PackageRefused(
                f"The package names a file outside itself ({info.filename[:80]!r}); refused."
            )
        total += info.file_size
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            raise PackageRefused(
                f"{info.filename[:80]} unpacks to more than {MAX_RATIO} times its size; refused."
            )
    if total > MAX_TOTAL_BYTES:
        raise PackageRefused("The package unpacks to more than 200 MB; refused.")
    return archive


def _member_read(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        with archive.open(name) as member:
            data = member.read(MAX_XML_BYTES + 1)
    except KeyError:
        raise ItemUnreadable(f"{name} is named in the manifest but not in the package.") from None
    except (zipfile.BadZipFile, OSError, RuntimeError) as error:
        raise ItemUnreadable(f"{name} cannot be unpacked: {error}.") from None
    if len(data) > MAX_XML_BYTES:
        raise ItemUnreadable(f"{name} is larger than {MAX_XML_BYTES // 1024} kB.")
    return data


def xml_parse(data: bytes, name: str) -> etree._Element:
    """The document's root; raises ItemUnreadable for a DOCTYPE or malformed XML."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        tree = etree.parse(io.BytesIO(data), parser)
    except etree.XMLSyntaxError as error:
        raise ItemUnreadable(f"{name} is not well-formed XML: {error.msg}.") from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ItemUnreadable(f"{name} declares a DOCTYPE; QTI needs none, so it is refused.")
    return tree.getroot()


def _local(element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _float(text: str | None, what: str) -> float:
    try:
        return float(text or "")
    except ValueError:
        raise ItemUnreadable(f"{what} is not a number ({(text or '')[:20]!r}).") from None


def _extension(resource: etree._Element) -> dict:
    ext = resource.find(f"{{{CP_NS}}}metadata/{{{EXT_NS}}}question")
    if ext is None:
        return {}
    found: dict = {"kind": ext.get("kind", ""), "difficulty": ext.get("difficulty", "")}
    found["pool"] = ext.get("pool", "")
    outcome = ext.find(f"{{{EXT_NS}}}outcome")
    found["outcome"] = (outcome.text or "").strip() if outcome is not None else ""
    study = ext.find(f"{{{EXT_NS}}}study")
    if study is not None:
        try:
            found["study"] = {
                "study_uid": study.get("studyInstanceUID", ""),
                "series_uid": study.get("seriesInstanceUID", ""),
                "seg_series_uid": study.get("segSeriesInstanceUID", ""),
                "segment_number": int(study.get("segmentNumber", "")),
            }
        except ValueError:
            raise ItemUnreadable("The study reference's segment number is not a number.") from None
    scoring = ext.find(f"{{{EXT_NS}}}scoring")
    if scoring is not None and (scoring.text or "").strip():
        try:
            found["scoring"] = json.loads(scoring.text)
        except json.JSONDecodeError:
            raise ItemUnreadable("The extension's scoring is not JSON.") from None
        if not isinstance(found["scoring"], dict):
            raise ItemUnreadable("The extension's scoring is not a JSON object.")
    return found


def _interaction(body: etree._Element) -> etree._Element:
    found = [e for e in body.iter() if _local(e) in INTERACTIONS]
    if not found:
        raise ItemUnreadable("The item has no interaction this bank can take.")
    if len(found) > 1:
        raise ItemUnreadable("The item has more than one interaction; the bank takes one.")
    return found[0]


def _prompt_html(body: etree._Element, interaction: etree._Element) -> str:
    """The item body without its interaction (and the line holding an inline one) and
    without scorer-only rubrics."""
    parts = []
    for child in body:
        if child is interaction or _local(child) == "rubricBlock":
            continue
        if any(e is interaction for e in child.iter()):
            continue
        parts.append(qti_to_html(child))
    html = "".join(parts)
    if not html.strip():
        prompt = interaction.find(f"{{{QTI_NS}}}prompt")
        if prompt is not None:
            html = f"<p>{inner_html(prompt)}</p>"
    return html


def _points(item: etree._Element) -> float:
    score = item.find(f"{{{QTI_NS}}}outcomeDeclaration[@identifier='SCORE']")
    if score is not None and score.get("normalMaximum"):
        return _float(score.get("normalMaximum"), "SCORE's normalMaximum")
    values = item.xpath(
        "q:outcomeDeclaration[@identifier='MAXSCORE']/q:defaultValue/q:value/text()", namespaces=Q
    )
    return _float(values[0], "MAXSCORE") if values else 1.0


def _response(item: etree._Element, interaction: etree._Element) -> etree._Element:
    name = interaction.get("responseIdentifier", "")
    found = item.xpath("q:responseDeclaration[@identifier=$name]", namespaces=Q, name=name)
    if not found:
        raise ItemUnreadable(f"The interaction's response {name!r} is not declared.")
    return found[0]


def _values(declaration: etree._Element, path: str) -> list[str]:
    return [(v or "").strip() for v in declaration.xpath(f"q:{path}/q:value/text()", namespaces=Q)]


def _choice_data(declaration, interaction) -> dict:
    correct = set(_values(declaration, "correctResponse"))
    options = []
    for choice in interaction.iter(f"{{{QTI_NS}}}simpleChoice"):
        feedback = choice.find(f"{{{QTI_NS}}}feedbackInline")
        options.append(
            {
                "text": plain_text(choice, skip=frozenset({"feedbackInline"})),
                "correct": choice.get("identifier") in correct,
                "feedback": plain_text(feedback) if feedback is not None else "",
            }
        )
    return {"options": options}


def _kind_and_data(item, interaction, declaration, ext: dict) -> tuple[str, dict]:
    name = _local(interaction)
    kind = ext.get("kind", "")
    if name == "choiceInteraction":
        single = declaration.get("cardinality") == "single"
        kind = QuestionKind.SINGLE_CHOICE if single else QuestionKind.MULTIPLE_CHOICE
        return kind, _choice_data(declaration, interaction)
    if name == "textEntryInteraction":
        if declaration.get("baseType") in ("float", "integer"):
            correct = _values(declaration, "correctResponse")
            if not correct:
                raise ItemUnreadable("The numeric item has no correct response.")
            tolerances = item.xpath(".//q:equal/@tolerance", namespaces=Q)
            tolerance = _float(tolerances[0].split()[0], "The tolerance") if tolerances else 0.0
            unit = " ".join((interaction.tail or "").split())[:16]
            data = {"answer": _float(correct[0], "The correct response"), "tolerance": tolerance}
            return QuestionKind.NUMERIC, {**data, "unit": unit}
        keys = [
            entry.get("mapKey", "").strip()
            for entry in declaration.iter(f"{{{QTI_NS}}}mapEntry")
            if _float(entry.get("mappedValue"), "A mapped value") > 0
        ]
        accepted = list(dict.fromkeys(_values(declaration, "correctResponse") + keys))
        return QuestionKind.SHORT_TEXT, {"accepted": [a for a in accepted if a]}
    if name == "extendedTextInteraction":
        if kind == QuestionKind.LAB_REPORT:
            return kind, {}
        rubric = item.xpath(".//q:rubricBlock[contains(@view, 'scorer')]", namespaces=Q)
        model_answer = plain_text(rubric[0]) if rubric else ""
        return QuestionKind.ESSAY, {"model_answer": model_answer}
    # Graphic interactions: what scores them here is the study and SEG in the extension.
    image_kinds = {
        "selectPointInteraction": (QuestionKind.IMAGE_POINT, QuestionKind.IMAGE_SLICE),
        "drawingInteraction": (QuestionKind.IMAGE_BOX, QuestionKind.IMAGE_OUTLINE),
    }[name]
    if "study" not in ext:
        raise ItemUnreadable(
            "An image item without Artefact's study and segmentation references cannot be"
            " scored here."
        )
    if kind not in image_kinds:
        kind = image_kinds[0]
    return kind, dict(ext["study"])


def _draft(archive: zipfile.ZipFile, resource: etree._Element) -> QuestionDraft:
    href = resource.get("href", "")
    ext = _extension(resource)
    item = xml_parse(_member_read(archive, href), href)
    if _local(item) != "assessmentItem" or etree.QName(item).namespace != QTI_NS:
        raise ItemUnreadable(f"{href} is not a QTI 2.1 assessmentItem.")
    body = item.find(f"{{{QTI_NS}}}itemBody")
    if body is None:
        raise ItemUnreadable("The item has no itemBody.")
    interaction = _interaction(body)
    declaration = _response(item, interaction)
    kind, data = _kind_and_data(item, interaction, declaration, ext)
    extra = ext.get("scoring", {})
    standard = STANDARD_KEYS.get(kind, set()) | set(IMAGE_REFERENCE_KEYS)
    data.update({k: v for k, v in extra.items() if k not in standard})
    feedback = item.xpath("q:modalFeedback[@identifier='EXPLANATION']", namespaces=Q)
    explanation = ""
    if feedback:
        explanation = "".join(
            qti_to_html(child)
            for child in feedback[0]
            if "artefact-answer-key" not in (child.get("class") or "")
        )
    difficulty = ext.get("difficulty") or Difficulty.MEDIUM
    if difficulty not in Difficulty.values:
        difficulty = Difficulty.MEDIUM
    return QuestionDraft(
        source=href,
        identifier=item.get("identifier", href),
        title=(item.get("title") or "").strip()[:200],
        kind=kind,
        prompt=_prompt_html(body, interaction),
        data=data,
        explanation=explanation,
        max_points=_points(item),
        difficulty=difficulty,
        outcome=ext.get("outcome", "")[:300],
        pool=ext.get("pool", "")[:100],
    )


def package_read(content: bytes) -> PackageContents:
    """Every item of the package as a draft or a problem; raises PackageRefused when the
    package itself is unsafe or has no readable manifest."""
    archive = package_open(content)
    try:
        manifest = xml_parse(_member_read(archive, MANIFEST_NAME), MANIFEST_NAME)
    except ItemUnreadable as why:
        raise PackageRefused(f"The manifest cannot be read: {why}") from None
    if etree.QName(manifest).namespace != CP_NS or _local(manifest) != "manifest":
        raise PackageRefused("imsmanifest.xml is not an IMS content package manifest.")
    resources = [
        r
        for r in manifest.iter(f"{{{CP_NS}}}resource")
        if (r.get("type") or "").startswith(ITEM_RESOURCE_TYPE)
    ]
    if not resources:
        raise PackageRefused("The package has no QTI 2.1 items.")
    if len(resources) > MAX_ITEMS:
        raise PackageRefused(f"The package has more than {MAX_ITEMS} items.")
    contents = PackageContents()
    seen: set[str] = set()
    for resource in resources:
        href = resource.get("href", "")
        try:
            draft = _draft(archive, resource)
            if draft.identifier in seen:
                raise ItemUnreadable(f"A second item has the identifier {draft.identifier}.")
            seen.add(draft.identifier)
            contents.drafts.append(draft)
        except ItemUnreadable as why:
            contents.problems.append(ItemProblem(source=href, title="", message=str(why)))
    return contents
