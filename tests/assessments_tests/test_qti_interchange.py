"""Question bank interchange in IMS QTI 2.1 (issue 20 item 6): the exported content package
passes the schemas in assessments/qti/schemas and the QTI rules a schema cannot state;
export -> import into an empty bank gives the same questions; image questions carry a key
image and their study and SEG references; unsafe packages (XXE, zip slip, zip bomb,
oversize) are refused; a bad item imports nothing and is reported; only the bank's authors
export (it holds the keys) and import."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.management import call_command
from django.urls import reverse
from lxml import etree
from PIL import Image

from assessments.models import Question, QuestionKind
from assessments.qti import CP_NS, EXT_NS, QTI_NS
from assessments.qti.reader import MAX_UPLOAD_BYTES
from assessments.qti.schema_check import package_errors
from assessments.selectors import question_bank_qti_package
from assessments.services import question_bank_import, question_ensure
from tests.assessments_tests.builders import choice_question, essay_question, numeric_question

pytestmark = pytest.mark.django_db

FIELDS = ("title", "kind", "prompt", "data", "explanation", "max_points", "difficulty")
FIELDS += ("outcome", "pool")


def _bank() -> list[Question]:
    return [
        choice_question("Lung window", points=2.0, pool="windows"),
        question_ensure(
            title="Signs of pneumothorax",
            kind=QuestionKind.MULTIPLE_CHOICE,
            prompt="<p>Which are <b>signs</b> of a pneumothorax?</p><ul><li>on CT</li></ul>",
            data={
                "options": [
                    {"text": "Visceral pleural line", "correct": True, "feedback": "Yes."},
                    {"text": "Deep sulcus sign", "correct": True},
                    {
                        "text": "Air bronchogram",
                        "correct": False,
                        "feedback": "That is a consolidation sign.",
                    },
                ]
            },
            explanation="<p>Air <i>outside</i> the lung.</p>",
            outcome="Recognise a pneumothorax",
            difficulty="hard",
            max_points=3.0,
        ),
        question_ensure(
            title="Name the artefact",
            kind=QuestionKind.SHORT_TEXT,
            prompt="<p>Streaks from a hip prosthesis are called?</p>",
            data={"accepted": ["metal artefact", "metal artifact", "Streak artefact"]},
            explanation="<p>Beam hardening and photon starvation.</p>",
        ),
        numeric_question("Water in HU"),
        question_ensure(
            title="Slice thickness",
            kind=QuestionKind.NUMERIC,
            prompt="<p>Slice thickness of the series?</p>",
            data={"answer": 2.5, "tolerance": 0.5, "unit": "mm"},
        ),
        essay_question("Explain shift"),
        question_ensure(
            title="Report your noise lab",
            kind=QuestionKind.LAB_REPORT,
            prompt="<p>Report what the noise did to the model.</p>",
            data={"min_runs": 2},
            max_points=5.0,
        ),
    ]


def _snapshot(question: Question) -> dict:
    return {name: getattr(question, name) for name in FIELDS}


def _import(package: bytes):
    return question_bank_import(package=package)


def test_the_exported_package_passes_the_qti_schema_and_rules():
    _bank()
    question_ensure(
        title="Rate the cases",
        kind=QuestionKind.CASE_RATING,
        prompt="<p>Rate each case.</p>",
        data={"cases": [{"label": "A", "positive": True}, {"label": "B", "positive": False}]},
    )
    package = question_bank_qti_package()
    assert package_errors(package.content) == []
    assert package.item_count == 7
    assert [title for title, _why in package.left_out] == ["Rate the cases"]
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        names = set(archive.namelist())
        manifest = etree.fromstring(archive.read("imsmanifest.xml"))
        choice = etree.fromstring(
            archive.read(f"q{Question.objects.get(title='Lung window').pk}.xml")
        )
    assert "left-out.txt" in names and len(manifest.findall(f".//{{{CP_NS}}}resource")) == 7
    ns = {"q": QTI_NS}
    assert choice.xpath("//q:choiceInteraction/@maxChoices", namespaces=ns) == ["1"]
    assert choice.xpath("//q:correctResponse/q:value/text()", namespaces=ns) == ["C2"]
    assert choice.xpath(
        "//q:outcomeDeclaration[@identifier='SCORE']/@normalMaximum", namespaces=ns
    ) == ["2"]


def test_a_schema_violation_is_found():
    """The check is not vacuous: an item missing a required attribute fails it."""
    choice_question("Lung window")
    content = question_bank_qti_package().content
    broken = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(broken, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name.endswith(".xml") and name != "imsmanifest.xml":
                data = data.replace(b' shuffle="false"', b"").replace(b">C2<", b">C9<")
            target.writestr(name, data)
    errors = package_errors(broken.getvalue())
    assert any("shuffle" in error for error in errors)
    assert any("C9 is not a choice" in error for error in errors)


def test_export_then_import_into_an_empty_bank_gives_equal_questions():
    before = sorted((_snapshot(q) for q in _bank()), key=lambda s: s["title"])
    package = question_bank_qti_package()
    Question.objects.all().delete()
    report = _import(package.content)
    assert report.problems == [] and not report.refused
    after = sorted((_snapshot(q) for q in Question.objects.all()), key=lambda s: s["title"])
    assert after == before


def test_image_questions_carry_the_key_image_and_their_study_and_seg(chest_ct):
    from assessments.ground_truth import ground_truth_load, segment_labels

    study, ct, seg = chest_ct
    numbers = {name: number for number, name in segment_labels(seg.series_instance_uid)}
    refs = {
        "study_uid": study.study_instance_uid,
        "series_uid": ct.series_instance_uid,
        "seg_series_uid": seg.series_instance_uid,
        "segment_number": numbers["Spleen"],
    }
    made = [
        question_ensure(
            title="Click the spleen",
            kind=QuestionKind.IMAGE_POINT,
            prompt="<p>Click the spleen.</p>",
            data={**refs, "tolerance_mm": 4.0, "near_credit": 0.5},
            explanation="<p>Left upper quadrant.</p>",
        ),
        question_ensure(
            title="Slice of the spleen",
            kind=QuestionKind.IMAGE_SLICE,
            prompt="<p>Choose the slice.</p>",
            data={**refs, "tolerance_slices": 2},
        ),
        question_ensure(
            title="Box the spleen",
            kind=QuestionKind.IMAGE_BOX,
            prompt="<p>Box it.</p>",
            data={**refs, "metric": "iou"},
        ),
        question_ensure(
            title="Outline the spleen",
            kind=QuestionKind.IMAGE_OUTLINE,
            prompt="<p>Outline it.</p>",
            data=refs,
        ),
    ]
    before = sorted((_snapshot(q) for q in made), key=lambda s: s["title"])
    package = question_bank_qti_package()
    assert package_errors(package.content) == [] and package.left_out == []
    truth = ground_truth_load(refs)
    point = made[0]
    with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
        item = etree.fromstring(archive.read(f"q{point.pk}.xml"))
        manifest = etree.fromstring(archive.read("imsmanifest.xml"))
        key = Image.open(io.BytesIO(archive.read(f"images/q{point.pk}-key.png")))
        plain = Image.open(io.BytesIO(archive.read(f"images/q{point.pk}-slice.png")))
    ns = {"q": QTI_NS}
    assert item.xpath("//q:selectPointInteraction/q:object/@data", namespaces=ns) == [
        f"images/q{point.pk}-slice.png"
    ]
    assert key.size == plain.size == (truth.mask.shape[2], truth.mask.shape[1])
    # The key image differs from the plain slice exactly where the segment is tinted.
    k = int(truth.mask.reshape(len(truth.sop_uids), -1).sum(axis=1).argmax())
    import numpy as np

    changed = np.any(np.asarray(key.convert("RGB")) != np.asarray(plain.convert("RGB")), axis=2)
    assert changed[truth.mask[k]].mean() > 0.9 and not changed[~truth.mask[k]].any()
    # The area mapping's first rectangle holds the correct point; the second is wider.
    x, y = map(int, item.xpath("//q:correctResponse/q:value/text()", namespaces=ns)[0].split())
    rects = [
        list(map(int, c.split(","))) for c in item.xpath("//q:areaMapEntry/@coords", namespaces=ns)
    ]
    assert rects[0][0] <= x <= rects[0][2] and rects[0][1] <= y <= rects[0][3]
    assert rects[1][0] < rects[0][0] and rects[1][2] > rects[0][2]
    study_ref = manifest.find(f".//{{{EXT_NS}}}study")
    assert study_ref.get("segSeriesInstanceUID") == seg.series_instance_uid
    assert study_ref.get("keySlice") == str(k + 1)
    Question.objects.all().delete()
    report = _import(package.content)
    assert report.problems == []
    after = sorted((_snapshot(q) for q in Question.objects.all()), key=lambda s: s["title"])
    assert after == before


# --- Hostile and broken packages ------------------------------------------------------------

ITEM = """<?xml version="1.0" encoding="UTF-8"?>{doctype}
<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="{identifier}"
  title="{title}" adaptive="false" timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse>{correct}</correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float" normalMaximum="1"/>
  <itemBody><p>{prompt}</p>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="false" maxChoices="1">
      <simpleChoice identifier="A">Yes</simpleChoice><simpleChoice identifier="B">No</simpleChoice>
    </choiceInteraction>
  </itemBody>
</assessmentItem>"""


def _item(
    identifier="i1", title="Foreign item", prompt="Is it?", correct="<value>A</value>", doctype=""
):
    return ITEM.format(
        identifier=identifier, title=title, prompt=prompt, correct=correct, doctype=doctype
    ).encode()


def _package(items: dict[str, bytes], extra: dict[str, bytes] | None = None) -> bytes:
    resources = "".join(
        f'<resource identifier="R{n}" type="imsqti_item_xmlv2p1" href="{name}">'
        f'<file href="{name}"/></resource>'
        for n, name in enumerate(items)
    )
    manifest = (
        f'<manifest xmlns="{CP_NS}" identifier="M"><organizations/>'
        f"<resources>{resources}</resources></manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("imsmanifest.xml", manifest)
        for name, data in {**items, **(extra or {})}.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_foreign_choice_item_without_our_extension_imports():
    report = _import(_package({"i1.xml": _item()}))
    assert report.problems == []
    question = Question.objects.get()
    assert question.kind == QuestionKind.SINGLE_CHOICE and question.prompt == "<p>Is it?</p>"
    assert [o["correct"] for o in question.data["options"]] == [True, False]


XXE = '\n<!DOCTYPE assessmentItem [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
LAUGHS = (
    '\n<!DOCTYPE assessmentItem [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
)


@pytest.mark.parametrize("doctype,prompt", [(XXE, "&xxe;"), (LAUGHS, "&c;")], ids=["xxe", "laughs"])
def test_an_item_with_a_doctype_is_refused_and_nothing_is_imported(doctype, prompt):
    choice_question("Already here")
    package = _package(
        {"good.xml": _item("good"), "bad.xml": _item("bad", prompt=prompt, doctype=doctype)}
    )
    report = _import(package)
    assert not report.created and len(report.problems) == 1
    assert report.problems[0].source == "bad.xml" and "DOCTYPE" in report.problems[0].message
    assert list(Question.objects.values_list("title", flat=True)) == ["Already here"]
    assert not Question.objects.filter(prompt__contains="root:").exists()


@pytest.mark.parametrize("name", ["../escape.xml", "/etc/cron.d/x", "a/../../b.xml", "c:\\x.xml"])
def test_a_member_outside_the_package_refuses_it(name):
    report = _import(_package({"i1.xml": _item()}, extra={name: b"<x/>"}))
    assert "outside itself" in report.refused and not report.created
    assert not Question.objects.exists()


def test_a_zip_bomb_is_refused():
    report = _import(_package({"i1.xml": _item()}, extra={"padding.bin": b"\0" * 5_000_000}))
    assert "times its size" in report.refused and not Question.objects.exists()


def test_not_a_zip_and_no_manifest_are_refused():
    assert "not a zip" in _import(b"PK but not really").refused
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("i1.xml", _item())
    assert "manifest" in _import(buffer.getvalue()).refused


def test_bad_items_are_reported_one_by_one_and_nothing_is_imported():
    package = _package(
        {
            "good.xml": _item("good"),
            "two-keys.xml": _item("two", correct="<value>A</value><value>B</value>"),
            "no-key.xml": _item("none", correct="<value>Z</value>", title="No key"),
            "broken.xml": b"<assessmentItem",
        }
    )
    report = _import(package)
    by_item = {problem.source: problem.message for problem in report.problems}
    assert set(by_item) == {"two-keys.xml", "no-key.xml", "broken.xml"}, by_item
    assert "exactly one option marked correct" in by_item["no-key.xml"]
    assert "exactly one option marked correct" in by_item["two-keys.xml"]
    assert "not well-formed" in by_item["broken.xml"]
    assert not Question.objects.exists()


def test_imported_markup_is_allow_listed_and_the_report_escapes_titles(client, people):
    hostile_title = "&lt;img src=x onerror=alert(1)&gt;"
    prompt = (
        'See <a href="javascript:alert(1)">this</a> <b onclick="alert(2)">now</b>'
        "<script>alert(3)</script>"
    )
    package = _package({"i1.xml": _item(title=hostile_title, prompt=prompt)})
    client.force_login(people["educator"])
    upload = io.BytesIO(package)
    upload.name = "bank.zip"
    response = client.post(reverse("assessments:bank_import"), {"package": upload})
    assert response.status_code == 200
    question = Question.objects.get()
    assert question.prompt == "<p>See this <b>now</b></p>"
    page = response.content.decode()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_an_oversize_upload_is_refused(client, people):
    client.force_login(people["educator"])
    upload = io.BytesIO(b"\0" * (MAX_UPLOAD_BYTES + 1))
    upload.name = "big.zip"
    response = client.post(reverse("assessments:bank_import"), {"package": upload})
    assert response.status_code == 400 and b"larger than 20 MB" in response.content
    assert not Question.objects.exists()


# --- Who may ---------------------------------------------------------------------------------


def test_only_the_banks_authors_export_and_import(client, people):
    choice_question("Lung window")
    export, page = reverse("assessments:bank_export"), reverse("assessments:bank_import")
    for who in ("resident", "outsider", "examiner"):
        client.force_login(people[who])
        assert client.get(export).status_code == 403, who
        assert client.post(page, {}).status_code == 403, who
    for who in ("educator", "admin"):
        client.force_login(people[who])
        response = client.get(export)
        assert response.status_code == 200 and response["Content-Type"] == "application/zip"
        assert response["Cache-Control"] == "private, no-store"
        assert package_errors(response.content) == []
    client.force_login(people["educator"])
    listing = client.get(reverse("wagtailsnippets_assessments_question:list")).content.decode()
    assert export in listing and page in listing


def test_the_management_command_exports_and_imports(tmp_path):
    before = sorted((_snapshot(q) for q in _bank()), key=lambda s: s["title"])
    path = tmp_path / "bank.zip"
    out = io.StringIO()
    call_command("question_bank_qti", "export", str(path), stdout=out)
    assert "Wrote 7 item(s)" in out.getvalue()
    Question.objects.all().delete()
    call_command("question_bank_qti", "import", str(path), stdout=out)
    after = sorted((_snapshot(q) for q in Question.objects.all()), key=lambda s: s["title"])
    assert after == before


def test_a_manifest_with_a_doctype_refuses_the_package():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "imsmanifest.xml",
            '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            f'<manifest xmlns="{CP_NS}" identifier="M"><organizations/><resources/></manifest>',
        )
    report = _import(buffer.getvalue())
    assert "DOCTYPE" in report.refused and not Question.objects.exists()
