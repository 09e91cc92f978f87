"""The shipped course as files: reading content/ (TOML, one file per lesson) into plain data.

Layout (reviewed like code):

    content/course.toml                    the course page
    content/<NN>-<module>/module.toml      a module: outcomes, prerequisites, its lab exercise
    content/<NN>-<module>/<NN>-<lesson>.toml  a lesson: outcomes and body blocks

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

CONTENT_DIR = Path(settings.BASE_DIR) / "content"
BLOCK_TYPES = frozenset({"text", "callout", "lab", "viewer", "references", "figure", "video"})


class ContentError(ValueError):
    """A content file is malformed; the message names the file."""


@dataclass
class LabSpec:
    title: str
    instructions: str
    model_key: str = "ct-tissue"
    study_key: str = "ct-small"
    perturbation_key: str = "gaussian-noise"
    severity_default: float = 100.0


@dataclass
class LessonSpec:
    path: Path
    slug: str
    title: str
    summary: str
    estimated_minutes: int
    outcomes: list[dict]
    body: list[dict]


@dataclass
class ModuleSpec:
    path: Path
    slug: str
    title: str
    summary: str
    estimated_minutes: int | None
    outcomes: list[dict]
    prerequisites: list[str]
    lab: LabSpec | None
    lessons: list[LessonSpec] = field(default_factory=list)


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


def _require(data: dict, path: Path, *names: str) -> None:
    missing = [name for name in names if not data.get(name)]
    if missing:
        raise ContentError(f"{path}: missing {', '.join(missing)}")


def _outcomes(data: dict, path: Path) -> list[dict]:
    outcomes = data.get("outcomes", [])
    for outcome in outcomes:
        _require(outcome, path, "text", "domain", "level")
        if outcome["domain"] not in {"knowledge", "skills", "competences"}:
            raise ContentError(f"{path}: unknown outcome domain {outcome['domain']!r}")
        if outcome["level"] not in {"I", "II", "III"}:
            raise ContentError(f"{path}: unknown outcome level {outcome['level']!r}")
    return outcomes


def lesson_read(path: Path) -> LessonSpec:
    data = _read(path)
    _require(data, path, "slug", "title", "body")
    for block in data["body"]:
        if block.get("type") not in BLOCK_TYPES:
            raise ContentError(f"{path}: unknown block type {block.get('type')!r}")
    return LessonSpec(
        path=path,
        slug=data["slug"],
        title=data["title"],
        summary=data.get("summary", ""),
        estimated_minutes=int(data.get("estimated_minutes", 20)),
        outcomes=_outcomes(data, path),
        body=data["body"],
    )


def module_read(directory: Path) -> ModuleSpec:
    path = directory / "module.toml"
    data = _read(path)
    _require(data, path, "slug", "title")
    lab = LabSpec(**data["lab"]) if "lab" in data else None
    module = ModuleSpec(
        path=path,
        slug=data["slug"],
        title=data["title"],
        summary=data.get("summary", ""),
        estimated_minutes=data.get("estimated_minutes"),
        outcomes=_outcomes(data, path),
        prerequisites=list(data.get("prerequisites", [])),
        lab=lab,
    )
    module.lessons = [
        lesson_read(each) for each in sorted(directory.glob("*.toml")) if each.name != "module.toml"
    ]
    return module


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
