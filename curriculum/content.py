"""The shipped course as files: reading content/ (TOML, one file per lesson) into plain data.

Layout (reviewed like code):

    content/course.toml                    the course page
    content/<NN>-<module>/module.toml      a module: outcomes, prerequisites, its lab exercise
    content/<NN>-<module>/<NN>-<lesson>.toml  a lesson: outcomes and body blocks
    content/<NN>-<module>/quiz.toml        the module's quiz: its questions and the lesson
                                           that shows it

Every outcome carries two mappings a programme director reads off the mapping page
(curriculum.selectors.outcome_mapping): `etc_domain`, the imaging-informatics topic of the
ESR European Training Curriculum it serves (curriculum.models.EtcDomain), and `roles`, which of the
four roles of the AAPM/ACR/RSNA/SIIM AI syllabus it prepares for. Lessons state no
duration: it is computed from their words and the time residents take in their labs.

TOML is read by the standard library (tomllib), so the content needs no extra package. The
numeric prefixes fix the reading order; the `slug` inside each file is the page's identity.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from curriculum.models import SYLLABUS_ROLES, EtcDomain

CONTENT_DIR = Path(settings.BASE_DIR) / "content"
# Lesson blocks that embed an authored exercise snippet, defined inline in the lesson file
# ([body.exercise] with the snippet's fields): block type -> "app_label.Model".
EXERCISE_BLOCKS = {
    "reading_room": "reading_room.ReadingRoomExercise",
    "reader_study": "reader_study.ReaderStudyExercise",
    "cohort_lab": "evaluation.CohortExercise",
    "deid": "deid_lab.DeidExercise",
    "model_builder": "model_builder.BuilderExercise",
}
BLOCK_TYPES = frozenset(
    {"text", "callout", "lab", "viewer", "references", "figure", "video", *EXERCISE_BLOCKS}
)


class ContentError(ValueError):
    """A content file is malformed; the message names the file."""


@dataclass
class LabSpec:
    """A labs.LabExercise: the module's [lab], or a lesson's `lab` block with an inline
    [body.exercise] (an explain lab, say: kind, explainers, the image to start on)."""

    title: str
    instructions: str
    model_key: str = "ct-tissue"
    study_key: str = "ct-small"
    perturbation_key: str = "gaussian-noise"  # "" offers none
    severity_default: float = 100.0
    severity_max: float | None = None
    kind: str = "break-it"
    explainer_keys: list[str] = field(default_factory=list)
    slice_default: int | None = None
    questions: list[str] = field(default_factory=list)
    # Further offers beside the first (e.g. an attack and random noise of the same size):
    # each {"perturbation_key", "severity_max", "severity_default"}.
    more_perturbations: list[dict] = field(default_factory=list)

    def offers(self) -> list[dict]:
        """Every offer as {"perturbation", "severity_max", "severity_default"}."""
        first = (
            [
                {
                    "perturbation": self.perturbation_key,
                    "severity_max": self.severity_max,
                    "severity_default": self.severity_default,
                }
            ]
            if self.perturbation_key
            else []
        )
        return first + [
            {
                "perturbation": more["perturbation_key"],
                "severity_max": more.get("severity_max"),
                "severity_default": more.get("severity_default"),
            }
            for more in self.more_perturbations
        ]


def lab_block_title(block: dict) -> str:
    """The exercise title a `lab` block names, inline ([body.exercise]) or by title."""
    exercise = block["exercise"]
    return exercise["title"] if isinstance(exercise, dict) else exercise


@dataclass
class LessonSpec:
    path: Path
    slug: str
    title: str
    summary: str
    outcomes: list[dict]
    body: list[dict]


CHOICE_KINDS = frozenset({"single_choice", "multiple_choice"})
# Image-native questions: answered on a library study in the viewer, scored against one
# segment of a SEG series of the same study (assessments.scoring.image_*).
IMAGE_KINDS = frozenset({"image_point", "image_box", "image_outline", "image_slice"})
QUESTION_KINDS = frozenset({*CHOICE_KINDS, "numeric", "short_text", *IMAGE_KINDS})
# What an image question may say besides where its images are: the scorer's own settings.
IMAGE_SCORING_KEYS = frozenset(
    {
        "tolerance_mm",
        "near_credit",
        "tolerance_slices",
        "metric",
        "full_credit_at",
        "no_credit_below",
    }
)


@dataclass
class QuestionSpec:
    kind: str
    title: str
    prompt: str
    explanation: str
    difficulty: str
    outcome_text: str
    options: list[dict] = field(default_factory=list)  # choice kinds: {"text", "correct"}
    answer: float | None = None  # numeric
    tolerance: float = 0.0
    unit: str = ""
    accepted: list[str] = field(default_factory=list)  # short text
    # Image kinds: {"study", "series_number", "seg_series_number", "segment",
    # "initial_slice" (a number, or "largest": the slice where the segment is largest),
    # and the scorer's settings}; the loader turns keys and numbers into library UIDs.
    image: dict = field(default_factory=dict)


@dataclass
class QuizSpec:
    path: Path
    title: str
    lesson_slug: str
    pass_percent: float
    questions: list[QuestionSpec]


@dataclass
class ModuleSpec:
    path: Path
    slug: str
    title: str
    summary: str
    outcomes: list[dict]
    prerequisites: list[str]
    lab: LabSpec | None
    lessons: list[LessonSpec] = field(default_factory=list)
    quiz: QuizSpec | None = None


@dataclass
class CourseSpec:
    path: Path
    slug: str
    title: str
    summary: str
    introduction: str
    self_enrolment_allowed: bool
    modules: list[ModuleSpec] = field(default_factory=list)


def source_fingerprint(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ContentError(f"{path}: {error}") from error


def _require(data: dict, path: Path | str, *names: str) -> None:
    missing = [name for name in names if not data.get(name)]
    if missing:
        raise ContentError(f"{path}: missing {', '.join(missing)}")


def _outcomes(data: dict, path: Path) -> list[dict]:
    """The file's outcomes as model fields (text, domain, level, etc_domain, role_*)."""
    outcomes = []
    for outcome in data.get("outcomes", []):
        _require(outcome, path, "text", "domain", "level", "etc_domain", "roles")
        where = f"{path}: outcome {outcome['text'][:40]!r}"
        if outcome["domain"] not in {"knowledge", "skills", "competences"}:
            raise ContentError(f"{where}: unknown outcome domain {outcome['domain']!r}")
        if outcome["level"] not in {"I", "II", "III"}:
            raise ContentError(f"{where}: unknown outcome level {outcome['level']!r}")
        if outcome["etc_domain"] not in EtcDomain.values:
            raise ContentError(f"{where}: unknown etc_domain {outcome['etc_domain']!r}")
        roles = outcome["roles"]
        if not isinstance(roles, list) or not set(roles) <= set(SYLLABUS_ROLES):
            raise ContentError(f"{where}: roles are some of {', '.join(SYLLABUS_ROLES)}")
        outcomes.append(
            {
                "text": outcome["text"],
                "domain": outcome["domain"],
                "level": outcome["level"],
                "etc_domain": outcome["etc_domain"],
                **{f"role_{role}": role in roles for role in SYLLABUS_ROLES},
            }
        )
    return outcomes


def lesson_read(path: Path) -> LessonSpec:
    data = _read(path)
    _require(data, path, "slug", "title", "body")
    if "estimated_minutes" in data:
        raise ContentError(
            f"{path}: durations are computed from the words and the labs; drop estimated_minutes"
        )
    for block in data["body"]:
        if block.get("type") not in BLOCK_TYPES:
            raise ContentError(f"{path}: unknown block type {block.get('type')!r}")
        if block["type"] in EXERCISE_BLOCKS and not (block.get("exercise") or {}).get("title"):
            raise ContentError(
                f"{path}: a {block['type']} block needs [body.exercise] with a title"
            )
        if block["type"] == "lab" and isinstance(block.get("exercise"), dict):
            try:
                LabSpec(**block["exercise"])
            except TypeError as error:
                raise ContentError(f"{path}: lab [body.exercise]: {error}") from None
    return LessonSpec(
        path=path,
        slug=data["slug"],
        title=data["title"],
        summary=data.get("summary", ""),
        outcomes=_outcomes(data, path),
        body=data["body"],
    )


def module_read(directory: Path) -> ModuleSpec:
    path = directory / "module.toml"
    data = _read(path)
    _require(data, path, "slug", "title")
    if "estimated_minutes" in data:
        raise ContentError(f"{path}: a module's duration is its lessons'; drop estimated_minutes")
    lab = LabSpec(**data["lab"]) if "lab" in data else None
    module = ModuleSpec(
        path=path,
        slug=data["slug"],
        title=data["title"],
        summary=data.get("summary", ""),
        outcomes=_outcomes(data, path),
        prerequisites=list(data.get("prerequisites", [])),
        lab=lab,
    )
    # Lessons carry a numeric prefix; module.toml and quiz.toml do not.
    module.lessons = [lesson_read(each) for each in sorted(directory.glob("[0-9]*.toml"))]
    quiz_path = directory / "quiz.toml"
    if quiz_path.exists():
        module.quiz = quiz_read(quiz_path, module=module)
    return module


def _question_read(data: dict, path: Path, outcomes: list[dict]) -> QuestionSpec:
    _require(data, path, "kind", "title", "prompt", "explanation")
    kind = data["kind"]
    where = f"{path}: question {data['title']!r}"
    if kind not in QUESTION_KINDS:
        raise ContentError(f"{where}: unknown kind {kind!r}")
    position = int(data.get("outcome", 1))
    if not 1 <= position <= len(outcomes):
        raise ContentError(f"{where}: outcome {position} does not exist in module.toml")
    question = QuestionSpec(
        kind=kind,
        title=data["title"],
        prompt=data["prompt"],
        explanation=data["explanation"],
        difficulty=data.get("difficulty", "medium"),
        outcome_text=outcomes[position - 1]["text"],
    )
    if kind in IMAGE_KINDS:
        question.image = _image_question_read(data, where)
    elif kind in CHOICE_KINDS:
        question.options = list(data.get("options", []))
        correct = sum(bool(option.get("correct")) for option in question.options)
        if len(question.options) < 2 or not all(o.get("text") for o in question.options):
            raise ContentError(f"{where}: needs at least two options, each with text")
        if correct == 0 or (kind == "single_choice" and correct != 1):
            raise ContentError(f"{where}: a {kind} question needs its correct option(s) marked")
    elif kind == "numeric":
        if not isinstance(data.get("answer"), int | float):
            raise ContentError(f"{where}: a numeric question needs a numeric answer")
        question.answer = float(data["answer"])
        question.tolerance = float(data.get("tolerance", 0.0))
        question.unit = data.get("unit", "")
    else:
        question.accepted = [str(each) for each in data.get("accepted", []) if str(each).strip()]
        if not question.accepted:
            raise ContentError(f"{where}: a short-text question needs accepted answers")
    return question


def _image_question_read(data: dict, where: str) -> dict:
    _require(data, where, "study", "segment")
    image = {
        "study": str(data["study"]),
        "series_number": int(data.get("series_number", 1)),
        "seg_series_number": int(data.get("seg_series_number", 2)),
        "segment": str(data["segment"]),
        "initial_slice": data.get("initial_slice", "largest"),
    }
    if not (image["initial_slice"] == "largest" or isinstance(image["initial_slice"], int)):
        raise ContentError(f'{where}: initial_slice is a slice number or "largest"')
    unknown = (
        set(data)
        - IMAGE_SCORING_KEYS
        - set(image)
        - {"kind", "title", "prompt", "explanation", "difficulty", "outcome"}
    )
    if unknown:
        raise ContentError(f"{where}: unknown fields {sorted(unknown)}")
    image.update({key: data[key] for key in IMAGE_SCORING_KEYS if key in data})
    return image


def quiz_read(path: Path, *, module: ModuleSpec) -> QuizSpec:
    data = _read(path)
    _require(data, path, "title", "lesson", "questions")
    lesson_slugs = {lesson.slug for lesson in module.lessons}
    if data["lesson"] not in lesson_slugs:
        raise ContentError(f"{path}: lesson {data['lesson']!r} is not a lesson of this module")
    return QuizSpec(
        path=path,
        title=data["title"],
        lesson_slug=data["lesson"],
        pass_percent=float(data.get("pass_percent", 70)),
        questions=[_question_read(each, path, module.outcomes) for each in data["questions"]],
    )


def course_read(content_dir: Path = CONTENT_DIR) -> CourseSpec:
    """The whole course from disk, validated; raises ContentError naming the bad file."""
    path = content_dir / "course.toml"
    data = _read(path)
    _require(data, path, "slug", "title")
    course = CourseSpec(
        path=path,
        slug=data["slug"],
        title=data["title"],
        summary=data.get("summary", ""),
        introduction=data.get("introduction", ""),
        self_enrolment_allowed=bool(data.get("self_enrolment_allowed", False)),
    )
    course.modules = [
        module_read(each)
        for each in sorted(content_dir.iterdir())
        if each.is_dir() and (each / "module.toml").exists()
    ]
    slugs = [module.slug for module in course.modules]
    for module in course.modules:
        unknown = set(module.prerequisites) - set(slugs)
        if unknown:
            raise ContentError(f"{module.path}: unknown prerequisite {sorted(unknown)}")
    return course
