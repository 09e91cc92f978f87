"""Questions -> an IMS QTI 2.1 content package (zip bytes).

Kind by kind (what QTI can say, and what rides in the extension):
- single and multiple choice: choiceInteraction; correctResponse names the correct choices
  and a mapping carries our points (multiple choice: each correct option +max/n, each wrong
  one -max/n, bounded to [0, max], which is assessments.scoring.multiple_choice's rule);
  option feedback as feedbackInline.
- short text: textEntryInteraction; the accepted answers as a case-insensitive mapping
  (our scorer also ignores accents and punctuation: receiving systems may be stricter).
- numeric: textEntryInteraction of baseType float, scored by equal with an absolute
  tolerance; the unit is written after the box and kept in the extension.
- essay and lab report: extendedTextInteraction, examiner-marked (no response processing of
  the score); an essay's model answer as a rubricBlock for scorers.
- image point and image slice: selectPointInteraction on the PNG of the slice the question is
  asked on; the key is an areaMapping over the segment's bounding box (and, for a point, that
  box widened by the distance tolerance at the near-credit points); image box and outline:
  drawingInteraction (QTI has no automatic scoring of a drawn region). Every image question
  carries its key image in the explanation's modalFeedback and its study, series, SEG series
  and segment in the extension, which is what scores it here.
- case rating (an AUC over several cases) has no QTI counterpart and is left out, named in
  left-out.txt in the package.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from assessments.models import Question, QuestionKind
from assessments.qti import (
    CP_NS,
    CP_SCHEMA_LOCATION,
    EXT_NS,
    ITEM_RESOURCE_TYPE,
    MANIFEST_NAME,
    QTI_NS,
    QTI_SCHEMA_LOCATION,
    XSI_NS,
)
from assessments.qti.key_images import KeyImageMissing, KeyImages, key_images_render
from assessments.qti.rich_text import html_to_qti

IMAGE_REFERENCE_KEYS = ("study_uid", "series_uid", "seg_series_uid", "segment_number")
# The data keys each kind writes in standard QTI; the rest of `data` rides in the
# extension's <scoring> (JSON), so a round trip gives the data back whole.
STANDARD_KEYS = {
    QuestionKind.SINGLE_CHOICE: {"options"},
    QuestionKind.MULTIPLE_CHOICE: {"options"},
    QuestionKind.SHORT_TEXT: {"accepted"},
    QuestionKind.NUMERIC: {"answer", "tolerance"},
    QuestionKind.ESSAY: {"model_answer"},
    QuestionKind.LAB_REPORT: set(),
    QuestionKind.IMAGE_POINT: set(IMAGE_REFERENCE_KEYS),
    QuestionKind.IMAGE_SLICE: set(IMAGE_REFERENCE_KEYS),
    QuestionKind.IMAGE_BOX: set(IMAGE_REFERENCE_KEYS),
    QuestionKind.IMAGE_OUTLINE: set(IMAGE_REFERENCE_KEYS),
}
EXPORTABLE_KINDS = frozenset(STANDARD_KEYS)
TOOL_NAME = "Artefact"


class ExportLeftOut(ValueError):
    """This question cannot be written as QTI; the message says why."""


@dataclass
class QtiPackage:
    content: bytes
    item_count: int
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (title, why)


def item_identifier(question: Question) -> str:
    return f"q{question.pk}"


def _q(name: str) -> str:
    return f"{{{QTI_NS}}}{name}"


def _sub(parent, name: str, text: str | None = None, **attributes) -> etree._Element:
    element = etree.SubElement(parent, _q(name), {k: str(v) for k, v in attributes.items()})
    if text is not None:
        element.text = text
    return element


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _value_list(parent, name: str, values: Iterable[str]) -> None:
    holder = _sub(parent, name)
    for value in values:
        _sub(holder, "value", value)


def _set_outcome(parent, identifier: str, expression: etree._Element) -> None:
    rule = _sub(parent, "setOutcomeValue", identifier=identifier)
    rule.append(expression)


def _base_value(base_type: str, text: str) -> etree._Element:
    element = etree.Element(_q("baseValue"), baseType=base_type)
    element.text = text
    return element


def _feedback_expression(*, with_response: bool) -> etree._Element:
    """FEEDBACK: the explanation always, and the chosen options' feedback for choices."""
    if not with_response:
        return _base_value("identifier", "EXPLANATION")
    multiple = etree.Element(_q("multiple"))
    etree.SubElement(multiple, _q("variable"), identifier="RESPONSE")
    multiple.append(_base_value("identifier", "EXPLANATION"))
    return multiple


def _score_rule(processing, score_expression: etree._Element) -> None:
    """SCORE = 0 for no response, else `score_expression`."""
    condition = _sub(processing, "responseCondition")
    branch = _sub(condition, "responseIf")
    is_null = _sub(branch, "isNull")
    _sub(is_null, "variable", identifier="RESPONSE")
    _set_outcome(branch, "SCORE", _base_value("float", "0"))
    otherwise = _sub(condition, "responseElse")
    _set_outcome(otherwise, "SCORE", score_expression)


def _outcomes(item, question: Question, *, feedback_multiple: bool) -> None:
    score = _sub(
        item,
        "outcomeDeclaration",
        identifier="SCORE",
        cardinality="single",
        baseType="float",
        normalMinimum="0",
        normalMaximum=_number(question.max_points),
    )
    _value_list(score, "defaultValue", ["0"])
    max_score = _sub(
        item, "outcomeDeclaration", identifier="MAXSCORE", cardinality="single", baseType="float"
    )
    _value_list(max_score, "defaultValue", [_number(question.max_points)])
    _sub(
        item,
        "outcomeDeclaration",
        identifier="FEEDBACK",
        cardinality="multiple" if feedback_multiple else "single",
        baseType="identifier",
    )


def _choice_item(item, question: Question) -> None:
    options = question.data["options"]
    single = question.kind == QuestionKind.SINGLE_CHOICE
    identifiers = [f"C{index + 1}" for index in range(len(options))]
    correct = [i for i, option in enumerate(options) if option["correct"]]
    declaration = _sub(
        item,
        "responseDeclaration",
        identifier="RESPONSE",
        cardinality="single" if single else "multiple",
        baseType="identifier",
    )
    _value_list(declaration, "correctResponse", [identifiers[i] for i in correct])
    share = question.max_points / len(correct)
    mapping = _sub(
        declaration,
        "mapping",
        lowerBound="0",
        upperBound=_number(question.max_points),
        defaultValue="0",
    )
    for index, identifier in enumerate(identifiers):
        if single:
            value = question.max_points if index in correct else 0.0
        else:
            value = share if index in correct else -share
        _sub(
            mapping,
            "mapEntry",
            mapKey=identifier,
            mappedValue=_number(value),
            caseSensitive="true",
        )
    _outcomes(item, question, feedback_multiple=True)
    body = _body(item, question)
    interaction = _sub(
        body,
        "choiceInteraction",
        responseIdentifier="RESPONSE",
        shuffle="false",
        maxChoices="1" if single else "0",
        minChoices="1",
    )
    for identifier, option in zip(identifiers, options, strict=True):
        choice = _sub(interaction, "simpleChoice", option["text"], identifier=identifier)
        if option.get("feedback"):
            _sub(
                choice,
                "feedbackInline",
                option["feedback"],
                outcomeIdentifier="FEEDBACK",
                identifier=identifier,
                showHide="show",
            )
    processing = _sub(item, "responseProcessing")
    mapped = etree.Element(_q("mapResponse"), identifier="RESPONSE")
    _score_rule(processing, mapped)
    _set_outcome(processing, "FEEDBACK", _feedback_expression(with_response=True))


def _short_text_item(item, question: Question) -> None:
    accepted = question.data["accepted"]
    declaration = _sub(
        item, "responseDeclaration", identifier="RESPONSE", cardinality="single", baseType="string"
    )
    _value_list(declaration, "correctResponse", [accepted[0]])
    mapping = _sub(declaration, "mapping", defaultValue="0")
    for answer in accepted:
        _sub(
            mapping,
            "mapEntry",
            mapKey=answer,
            mappedValue=_number(question.max_points),
            caseSensitive="false",
        )
    _outcomes(item, question, feedback_multiple=False)
    body = _body(item, question)
    line = _sub(body, "p")
    _sub(line, "textEntryInteraction", responseIdentifier="RESPONSE", expectedLength="40")
    processing = _sub(item, "responseProcessing")
    _score_rule(processing, etree.Element(_q("mapResponse"), identifier="RESPONSE"))
    _set_outcome(processing, "FEEDBACK", _feedback_expression(with_response=False))


def _numeric_item(item, question: Question) -> None:
    data = question.data
    declaration = _sub(
        item, "responseDeclaration", identifier="RESPONSE", cardinality="single", baseType="float"
    )
    _value_list(declaration, "correctResponse", [_number(data["answer"])])
    _outcomes(item, question, feedback_multiple=False)
    body = _body(item, question)
    line = _sub(body, "p")
    box = _sub(line, "textEntryInteraction", responseIdentifier="RESPONSE", expectedLength="12")
    if data.get("unit"):
        box.tail = f" {data['unit']}"
    processing = _sub(item, "responseProcessing")
    condition = _sub(processing, "responseCondition")
    branch = _sub(condition, "responseIf")
    tolerance = _number(data.get("tolerance", 0))
    equal = _sub(branch, "equal", toleranceMode="absolute", tolerance=f"{tolerance} {tolerance}")
    _sub(equal, "variable", identifier="RESPONSE")
    _sub(equal, "correct", identifier="RESPONSE")
    _set_outcome(branch, "SCORE", _base_value("float", _number(question.max_points)))
    otherwise = _sub(condition, "responseElse")
    _set_outcome(otherwise, "SCORE", _base_value("float", "0"))
    _set_outcome(processing, "FEEDBACK", _feedback_expression(with_response=False))


def _extended_text_item(item, question: Question) -> None:
    _sub(
        item, "responseDeclaration", identifier="RESPONSE", cardinality="single", baseType="string"
    )
    _outcomes(item, question, feedback_multiple=False)
    body = _body(item, question)
    _sub(
        body,
        "extendedTextInteraction",
        responseIdentifier="RESPONSE",
        expectedLines="12",
        format="plain",
    )
    model_answer = question.data.get("model_answer", "")
    if model_answer:
        rubric = _sub(body, "rubricBlock", view="scorer")
        _sub(rubric, "p", model_answer)
    # Examiner-marked: only the explanation is set by processing; an examiner sets SCORE.
    processing = _sub(item, "responseProcessing")
    _set_outcome(processing, "FEEDBACK", _feedback_expression(with_response=False))


def _image_item(item, question: Question, images: KeyImages) -> None:
    point = question.kind in (QuestionKind.IMAGE_POINT, QuestionKind.IMAGE_SLICE)
    identifier = item_identifier(question)
    declaration = _sub(
        item,
        "responseDeclaration",
        identifier="RESPONSE",
        cardinality="single",
        baseType="point" if point else "file",
    )
    if point:
        _value_list(declaration, "correctResponse", ["{} {}".format(*images.centre)])
        mapping = _sub(
            declaration,
            "areaMapping",
            lowerBound="0",
            upperBound=_number(question.max_points),
            defaultValue="0",
        )
        left, top, right, bottom = images.bounds
        # Pixel (c, r) covers [c, c + 1) x [r, r + 1): the box runs to the far edges.
        _sub(
            mapping,
            "areaMapEntry",
            shape="rect",
            coords=f"{left},{top},{right + 1},{bottom + 1}",
            mappedValue=_number(question.max_points),
        )
        tolerance_mm = float(question.data.get("tolerance_mm", 0) or 0)
        if question.kind == QuestionKind.IMAGE_POINT and tolerance_mm > 0:
            spacing = min(images.pixel_spacing_mm) or 1.0
            margin = math.ceil(tolerance_mm / spacing)
            _sub(
                mapping,
                "areaMapEntry",
                shape="rect",
                coords=f"{left - margin},{top - margin},{right + 1 + margin},{bottom + 1 + margin}",
                mappedValue=_number(question.max_points * question.data.get("near_credit", 1.0)),
            )
    _outcomes(item, question, feedback_multiple=False)
    body = _body(item, question)
    interaction = _sub(
        body,
        "selectPointInteraction" if point else "drawingInteraction",
        responseIdentifier="RESPONSE",
        **({"maxChoices": "1", "minChoices": "1"} if point else {}),
    )
    _sub(
        interaction,
        "object",
        f"Slice {images.slice_number} of the study",
        data=f"images/{identifier}-slice.png",
        type="image/png",
        width=str(images.width),
        height=str(images.height),
    )
    processing = _sub(item, "responseProcessing")
    if point:
        _score_rule(processing, etree.Element(_q("mapResponsePoint"), identifier="RESPONSE"))
    _set_outcome(processing, "FEEDBACK", _feedback_expression(with_response=False))


def _body(item, question: Question) -> etree._Element:
    body = _sub(item, "itemBody")
    html_to_qti(question.prompt, body)
    return body


def _modal_feedback(item, question: Question, images: KeyImages | None) -> None:
    if not question.explanation.strip() and images is None:
        return
    feedback = _sub(
        item,
        "modalFeedback",
        outcomeIdentifier="FEEDBACK",
        identifier="EXPLANATION",
        showHide="show",
        title="Explanation",
    )
    html_to_qti(question.explanation, feedback)
    if images is not None:
        key = _sub(feedback, "div", **{"class": "artefact-answer-key"})
        _sub(
            key,
            "img",
            src=f"images/{item_identifier(question)}-key.png",
            alt="The answer key: the reference segment drawn over the slice.",
            width=str(images.width),
            height=str(images.height),
        )


def item_xml(question: Question, images: KeyImages | None = None) -> bytes:
    """One question as a QTI 2.1 assessmentItem; raises ExportLeftOut."""
    if question.kind not in EXPORTABLE_KINDS:
        raise ExportLeftOut(f"QTI has no interaction for {question.get_kind_display()}.")
    item = etree.Element(
        _q("assessmentItem"),
        nsmap={None: QTI_NS, "xsi": XSI_NS},
        identifier=item_identifier(question),
        title=question.title,
        adaptive="false",
        timeDependent="false",
        toolName=TOOL_NAME,
    )
    item.set(f"{{{XSI_NS}}}schemaLocation", f"{QTI_NS} {QTI_SCHEMA_LOCATION}")
    if question.kind in (QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE):
        _choice_item(item, question)
    elif question.kind == QuestionKind.SHORT_TEXT:
        _short_text_item(item, question)
    elif question.kind == QuestionKind.NUMERIC:
        _numeric_item(item, question)
    elif question.kind in (QuestionKind.ESSAY, QuestionKind.LAB_REPORT):
        _extended_text_item(item, question)
    else:
        assert images is not None
        _image_item(item, question, images)
    _modal_feedback(item, question, images)
    return etree.tostring(item, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _extension(parent, question: Question, images: KeyImages | None) -> None:
    ext = etree.SubElement(parent, f"{{{EXT_NS}}}question", kind=question.kind)
    ext.set("difficulty", question.difficulty)
    if question.pool:
        ext.set("pool", question.pool)
    if question.outcome:
        etree.SubElement(ext, f"{{{EXT_NS}}}outcome").text = question.outcome
    data = question.data or {}
    if question.is_image_question:
        study = etree.SubElement(
            ext,
            f"{{{EXT_NS}}}study",
            studyInstanceUID=data["study_uid"],
            seriesInstanceUID=data["series_uid"],
            segSeriesInstanceUID=data["seg_series_uid"],
            segmentNumber=str(data["segment_number"]),
        )
        if images is not None:
            study.set("keySlice", str(images.slice_number))
    scoring = {k: v for k, v in data.items() if k not in STANDARD_KEYS[question.kind]}
    if scoring:
        etree.SubElement(ext, f"{{{EXT_NS}}}scoring").text = json.dumps(scoring, sort_keys=True)


def question_bank_package(questions: Iterable[Question]) -> QtiPackage:
    """A content package of the questions QTI can express; the others are named in
    `left_out` (and in left-out.txt inside the package)."""
    manifest = etree.Element(
        f"{{{CP_NS}}}manifest",
        nsmap={None: CP_NS, "art": EXT_NS, "xsi": XSI_NS},
        identifier="ARTEFACT-QUESTION-BANK",
    )
    manifest.set(f"{{{XSI_NS}}}schemaLocation", f"{CP_NS} {CP_SCHEMA_LOCATION}")
    metadata = etree.SubElement(manifest, f"{{{CP_NS}}}metadata")
    etree.SubElement(metadata, f"{{{CP_NS}}}schema").text = "QTIv2.1 Package"
    etree.SubElement(metadata, f"{{{CP_NS}}}schemaversion").text = "1.0.0"
    etree.SubElement(manifest, f"{{{CP_NS}}}organizations")
    resources = etree.SubElement(manifest, f"{{{CP_NS}}}resources")
    left_out: list[tuple[str, str]] = []
    files: dict[str, bytes] = {}
    count = 0
    for question in questions:
        images = None
        try:
            if question.is_image_question:
                try:
                    images = key_images_render(question.data, kind=question.kind)
                except KeyImageMissing as missing:
                    raise ExportLeftOut(f"its images cannot be read: {missing}") from None
            item = item_xml(question, images)
        except ExportLeftOut as why:
            left_out.append((question.title, str(why)))
            continue
        identifier = item_identifier(question)
        href = f"{identifier}.xml"
        files[href] = item
        resource = etree.SubElement(
            resources,
            f"{{{CP_NS}}}resource",
            identifier=f"RES-{identifier}",
            type=ITEM_RESOURCE_TYPE,
            href=href,
        )
        _extension(etree.SubElement(resource, f"{{{CP_NS}}}metadata"), question, images)
        etree.SubElement(resource, f"{{{CP_NS}}}file", href=href)
        if images is not None:
            for suffix, png in (("slice", images.slice_png), ("key", images.key_png)):
                name = f"images/{identifier}-{suffix}.png"
                files[name] = png
                etree.SubElement(resource, f"{{{CP_NS}}}file", href=name)
        count += 1
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            MANIFEST_NAME,
            etree.tostring(manifest, xml_declaration=True, encoding="UTF-8", pretty_print=True),
        )
        for name, content in files.items():
            archive.writestr(name, content)
        if left_out:
            lines = [f"{title}: {why}" for title, why in left_out]
            archive.writestr("left-out.txt", "\n".join(lines) + "\n")
    return QtiPackage(content=buffer.getvalue(), item_count=count, left_out=left_out)
