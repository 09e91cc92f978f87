"""The shipped course's labs (issue 15, item 1): every module has at least two hands-on
labs on different engines, no experiment appears twice in the course, every lab asks
questions, and every lab's settings are ones its engine accepts.

An *engine* is the app that runs the lab and its kind: a lab exercise's break-it,
explain or run-and-inspect; a cohort lab's robustness sweep, measure-it or shortcut; the
de-identification lab; the reading room's triage or screening simulator; the reader study.
An *experiment* is (engine kind, model, study or cohort, what is varied: the perturbation,
the explainers, or the measure); a lab that offers several perturbations is one experiment
per offer, and a different severity is not a different experiment.

These tests read the content files only and build each exercise unsaved, so they run
without models or studies. That each shipped lab actually runs, and how long it takes on
the course's machine, is checked by bench/course_labs.py (real models, minutes).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from curriculum.content import EXERCISE_BLOCKS, LabSpec, course_read, lab_block_title


@dataclass(frozen=True)
class LabUse:
    module: str
    lesson: str
    block_type: str
    title: str
    engine: str
    experiments: tuple[tuple[str, ...], ...]
    questions: tuple[str, ...]
    fields: dict | LabSpec


def _lab_experiments(lab: LabSpec) -> tuple[tuple[str, ...], ...]:
    offers = [offer["perturbation"] for offer in lab.offers()]
    if lab.kind == "explain":
        return ((lab.kind, lab.model_key, lab.study_key, *sorted(lab.explainer_keys), *offers),)
    if lab.kind == "run-and-inspect" or not offers:
        return ((lab.kind, lab.model_key, lab.study_key, ""),)
    return tuple((lab.kind, lab.model_key, lab.study_key, key) for key in offers)


def _questions(value) -> tuple[str, ...]:
    """An exercise's questions: lines of text, or a list."""
    if isinstance(value, str):
        return tuple(line.strip() for line in value.splitlines() if line.strip())
    return tuple(value or ())


def _exercise_use(module, lesson, block_type: str, fields: dict) -> LabUse:
    title = fields["title"]
    if block_type == "cohort_lab":
        kind = fields["kind"]
        varied = {"sweep": fields.get("perturbation_key", ""), "measure": "measure"}.get(kind, "")
        return LabUse(
            module=module.slug,
            lesson=lesson.slug,
            block_type=block_type,
            title=title,
            engine=f"cohort/{kind}",
            experiments=((kind, fields["model_key"], fields["cohort_key"], varied),),
            questions=_questions(fields.get("questions")),
            fields=fields,
        )
    if block_type == "reading_room":
        source = fields.get("score_source", "ct-lesion-held-out")
        experiment = (fields["kind"], source, fields.get("finding", ""), "")
        engine = f"reading_room/{fields['kind']}"
    elif block_type == "deid":
        experiment = ("deid", "seeded study", fields.get("variant", "declared"), "")
        engine = "deid"
    elif block_type == "model_builder":
        # Training the lesion cohort twice, the split being what is varied.
        experiment = ("model_builder", "lesion cohort", "patient vs image split", "")
        engine = "model_builder"
    else:
        experiment = (block_type, title, "", "")
        engine = block_type
    return LabUse(
        module=module.slug,
        lesson=lesson.slug,
        block_type=block_type,
        title=title,
        engine=engine,
        experiments=(experiment,),
        questions=_questions(fields.get("questions")),
        fields=fields,
    )


def course_lab_uses() -> list[LabUse]:
    """Every lab block of every lesson, with the exercise it embeds resolved."""
    uses = []
    for module in course_read().modules:
        by_title = {module.lab.title: module.lab} if module.lab is not None else {}
        for lesson in module.lessons:
            for block in lesson.body:
                if block["type"] == "lab" and isinstance(block["exercise"], dict):
                    by_title[block["exercise"]["title"]] = LabSpec(**block["exercise"])
        for lesson in module.lessons:
            for block in lesson.body:
                if block["type"] == "lab":
                    lab = by_title[lab_block_title(block)]
                    uses.append(
                        LabUse(
                            module=module.slug,
                            lesson=lesson.slug,
                            block_type="lab",
                            title=lab.title,
                            engine=f"lab/{lab.kind}",
                            experiments=_lab_experiments(lab),
                            questions=tuple(lab.questions),
                            fields=lab,
                        )
                    )
                elif block["type"] in EXERCISE_BLOCKS:
                    uses.append(_exercise_use(module, lesson, block["type"], block["exercise"]))
    return uses


USES = course_lab_uses()


def test_every_module_has_two_labs_on_different_engines():
    modules = [module.slug for module in course_read().modules]
    for module in modules:
        engines = {use.engine for use in USES if use.module == module}
        titles = {use.title for use in USES if use.module == module}
        assert len(titles) >= 2, f"{module}: {sorted(titles)}"
        assert len(engines) >= 2, f"{module} uses one engine only: {sorted(engines)}"


def test_no_experiment_appears_twice_in_the_course():
    # A lab embedded in two lessons of its module is one lab; count each title once. Two
    # blocks with one title must then be the same lab (same engine and experiments), or a
    # repeated experiment could hide behind a reused title.
    distinct = {use.title: use for use in USES}
    for use in USES:
        first = distinct[use.title]
        assert (use.engine, use.experiments) == (first.engine, first.experiments), use.title
    counted = Counter(experiment for use in distinct.values() for experiment in use.experiments)
    repeated = {experiment: n for experiment, n in counted.items() if n > 1}
    assert not repeated, repeated


def test_every_lab_asks_questions_about_its_results():
    # Every family asks: the de-identification, reading-room and reader-study exercises ask
    # the resident to explain in writing what they saw, like the labs.
    for use in {use.title: use for use in USES}.values():
        assert len(use.questions) >= 2, use.title
        assert all(len(question.strip()) > 20 for question in use.questions), use.title


@pytest.mark.django_db
@pytest.mark.parametrize("title", sorted({use.title for use in USES}))
def test_every_lab_passes_its_engines_authoring_validation(title):
    """Each exercise as the loader would create it, checked by its model's own validation
    (ranges, modalities, affordable explainers, cohort limits), and its study is one the
    study library builds, of the model's modality."""
    from django.apps import apps

    from labs.models import LabExercise
    from studies.library.builders import STUDY_BUILDERS
    from studies.selectors import SAMPLE_STUDIES
    from zoo.registry import model_get

    use = next(use for use in USES if use.title == title)
    if use.block_type != "lab":
        exercise = apps.get_model(EXERCISE_BLOCKS[use.block_type])(**use.fields)
        exercise.full_clean()
        return
    lab: LabSpec = use.fields
    exercise = LabExercise(
        title=lab.title,
        kind=lab.kind,
        model_key=lab.model_key,
        study_key=lab.study_key,
        slice_default=lab.slice_default,
        perturbations=[
            {"type": "perturbation", "value": {"severity_min": None, **offer}}
            for offer in lab.offers()
        ],
        explainer_keys=list(lab.explainer_keys),
    )
    # The library's studies are indexed only where it was built; the builders say which
    # studies exist and what modality each is.
    exercise.full_clean(exclude=["study_key"])
    modalities = {key: builder.modality for key, builder in STUDY_BUILDERS.items()}
    modalities.update({key: sample.modality for key, sample in SAMPLE_STUDIES.items()})
    assert lab.study_key in modalities, lab.study_key
    model = model_get(lab.model_key)
    radiograph = {"CR", "DX"}
    study_modality = modalities[lab.study_key]
    assert study_modality == model.modality or {study_modality, model.modality} <= radiograph
    if lab.kind in {"break-it"}:
        assert exercise.offers, "a break-it lab offers a perturbation"
    for offer in exercise.offers:
        assert offer.low <= offer.default <= offer.high


def test_validation_refuses_a_perturbation_the_model_cannot_see():
    """The cheap check that guards the course: an MR perturbation offered on a CT model."""
    from django.core.exceptions import ValidationError

    from labs.models import LabExercise

    exercise = LabExercise(
        title="impossible",
        kind="break-it",
        model_key="ct-tissue",
        study_key="ct-small",
        perturbations=[{"type": "perturbation", "value": {"perturbation": "mr-motion-ghosting"}}],
    )
    with pytest.raises(ValidationError, match="cannot change a CT image"):
        exercise.clean()
