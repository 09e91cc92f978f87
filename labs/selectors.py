"""Reads for labs."""

import hashlib
from functools import partial
from pathlib import Path

from django.core.cache import cache

from accounts import permissions, roles
from labs.models import LabRun, LabRunStatus
from runs.answers import run_answers_rows
from runs.files import local_path
from runs.lessons import lesson_exercise_ids

NON_IMAGE_MODALITIES = ("SEG", "SR", "RTSTRUCT", "PR", "KO")


def lesson_lab_exercise_ids(page) -> set[int]:
    """Primary keys of the lab exercises a lesson embeds."""
    return lesson_exercise_ids(page, block_type="lab")


def _study_image_series(study_key: str):
    from studies.models import Series

    return (
        Series.objects.filter(study__key=study_key, instances__rows__isnull=False)
        .exclude(modality__in=NON_IMAGE_MODALITIES)
        .order_by("series_number")
        .distinct()
        .first()
    )


def study_image_paths(*, study_key: str) -> list[Path]:
    """The files of the study's first image series in instance order (the order residents
    number images in); built-in samples first, then the library index. StudyNotFound
    when neither knows the key."""
    from studies.models import Instance
    from studies.selectors import SAMPLE_STUDIES, StudyNotFound, library_file_local

    sample = SAMPLE_STUDIES.get(study_key)
    if sample is not None:
        return list(sample.locate())
    series = _study_image_series(study_key)
    if series is None:
        raise StudyNotFound(f"No study {study_key!r} in the library.")
    return [
        library_file_local(path, size=size)
        for path, size in Instance.objects.filter(series=series)
        .order_by("instance_number", "sop_instance_uid")
        .values_list("file_path", "file_size")
    ]


def study_image_sop_uids(*, study_key: str) -> list[str]:
    """SOP Instance UIDs of the study's first image series, in `study_image_paths` order:
    how a mark placed in the viewer (which names its image by UID) finds its image number.
    Empty for built-in samples, which the viewer does not show through DICOMweb."""
    series = _study_image_series(study_key)
    if series is None:
        return []
    return list(
        series.instances.order_by("instance_number", "sop_instance_uid").values_list(
            "sop_instance_uid", flat=True
        )
    )


def exercise_prompt_viewer(exercise) -> dict | None:
    """What the lab block's viewer needs to let a resident draw a box on the exercise's
    study: the study and series UIDs and the image to open on; None if not in the library.
    Read through the cache as the form's image count is (study_image_series_shown)."""
    shown = study_image_series_shown(study_key=exercise.study_key)
    if not shown["series_uid"]:
        return None
    return {
        "study_uid": shown["study_uid"],
        "series_uid": shown["series_uid"],
        "slice": exercise_default_slice(exercise, count=shown["count"]),
    }


def study_seg_paths(*, study_key: str) -> list[Path]:
    """Files of the study's DICOM SEG series (ground truth, where the library has one).

    An exam's unreleased answer key is never ground truth for a lab: a lab's metrics and
    pictures would hand it to the resident running it (issue 13)."""
    from studies.models import Instance, Series
    from studies.selectors import SAMPLE_STUDIES, library_file_local

    if study_key in SAMPLE_STUDIES:
        return []
    # Over studies.Series, the same for everyone; assessments declares it (an upper layer).
    keys = Series.objects.filter(
        permissions.visible_q(None, "assessments.unreleased_answer_keys")
    ).values("pk")
    return [
        library_file_local(path, size=size)
        for path, size in Instance.objects.filter(
            series__study__key=study_key, series__modality="SEG"
        )
        .exclude(series__in=keys)
        .values_list("file_path", "file_size")
    ]


# How long a lab block's image series is kept: a library reload (an admin's command,
# seldom) reaches the lab form's slider and prompt viewer within this time; a lab started
# meanwhile checks the image number against the study as it is now (labs.services). The
# viewer reads the pixels through DICOMweb, which applies the reader's visibility itself.
IMAGE_COUNT_SHOWN_SECONDS = 5 * 60


def study_image_series_shown(*, study_key: str) -> dict:
    """What a lab block's form shows of the study's first image series: {"study_uid",
    "series_uid" (both "" for a built-in sample or a study not in the library), "count"
    (study_image_count)}. The same for every reader, so kept in the cache: two queries per
    lab block on every lesson view before, four more for a prompt lab's viewer."""
    key = (
        "labs:study-image-series:" + hashlib.blake2b(study_key.encode(), digest_size=12).hexdigest()
    )
    shown = cache.get(key)
    if shown is None:
        shown = _study_image_series_read(study_key)
        cache.set(key, shown, timeout=IMAGE_COUNT_SHOWN_SECONDS)
    return shown


def _study_image_series_read(study_key: str) -> dict:
    from studies.selectors import SAMPLE_STUDIES

    series = None if study_key in SAMPLE_STUDIES else _study_image_series(study_key)
    if series is None:
        return {"study_uid": "", "series_uid": "", "count": study_image_count(study_key=study_key)}
    return {
        "study_uid": series.study.study_instance_uid,
        "series_uid": series.series_instance_uid,
        "count": series.instances.count(),
    }


def study_image_count_shown(*, study_key: str) -> int:
    """study_image_count for a lab block's form, through the cache (see above)."""
    return study_image_series_shown(study_key=study_key)["count"]


def study_image_count(*, study_key: str) -> int:
    """How many images a resident may choose from (0 for an unknown study)."""
    from studies.selectors import SAMPLE_STUDIES

    sample = SAMPLE_STUDIES.get(study_key)
    if sample is not None:
        return len(sample.locate())
    series = _study_image_series(study_key)
    return series.instances.count() if series is not None else 0


def exercise_default_slice(exercise, *, count: int | None = None) -> int:
    """The 1-based image a lab opens on: the educator's choice, else the middle one.
    `count`: study_image_count of the exercise's study, where the caller has it."""
    if count is None:
        count = study_image_count(study_key=exercise.study_key)
    if exercise.slice_default:
        return min(max(1, exercise.slice_default), max(1, count))
    return max(1, (count + 1) // 2)


def lab_runs_reportable(user):
    """This user's own finished runs, newest first: what a lab report may include.

    Only the resident's own runs (not those an educator may see of others), and only
    succeeded ones, so a report never cites a run without a result.
    """
    return (
        LabRun.objects.filter(user=user, status=LabRunStatus.SUCCEEDED)
        .select_related("exercise")
        .order_by("-finished_at", "-pk")
    )


def lab_runs_for_user(*, user, exercise=None, limit: int = 50):
    """Runs this user may see (their own for residents), newest first."""
    runs = permissions.visible(user, "labs.runs", LabRun.objects.all()).select_related(
        "exercise", "user"
    )
    if exercise is not None:
        runs = runs.filter(exercise=exercise, user=user)
    return runs[:limit]


def lab_run_metrics_display(run: LabRun) -> list[tuple[str, str]]:
    """Metrics as (label, formatted value) rows in a stable order."""
    return [(name, f"{value:.3f}") for name, value in sorted(run.metrics.items())]


def uploaded_model_usable(*, key: str):
    """The validated upload with this zoo key as a ZooModel, or None."""

    from labs.models import UploadedModel, UploadedModelStatus
    from zoo.uploaded import UPLOAD_KEY_PREFIX, UploadedTorchScriptModel, UploadSpec

    pk = key.removeprefix(UPLOAD_KEY_PREFIX)
    if not pk.isdigit():
        return None
    row = (
        UploadedModel.objects.filter(pk=int(pk), status=UploadedModelStatus.VALID)
        .select_related("uploaded_by")
        .first()
    )
    if row is None:
        return None
    return UploadedTorchScriptModel(
        key=row.zoo_key,
        title=f"{row.title} (uploaded)",
        archive=partial(local_path, row.archive.name),
        sha256=row.archive_sha256,
        spec=UploadSpec.from_json(row.spec),
        author=str(row.uploaded_by),
    )


def uploaded_models_usable_choices() -> list[tuple[str, str]]:
    from labs.models import UploadedModel, UploadedModelStatus

    return [
        (row.zoo_key, f"{row.title} (uploaded)")
        for row in UploadedModel.objects.filter(status=UploadedModelStatus.VALID)
    ]


def uploaded_models_for_user(*, user):
    """Uploads this educator made (all of them for programme admins), newest first."""
    from labs.models import UploadedModel

    rows = UploadedModel.objects.select_related("uploaded_by")
    return rows if roles.is_admin(user) else rows.filter(uploaded_by=user)


def _file_url(run: LabRun, name: str) -> str | None:
    from django.urls import reverse

    if name not in run.outputs:
        return None
    return reverse("labs:run_file", args=[run.pk, name])


def _viewer(run: LabRun, *, title: str, image: str, layers: list[tuple[str, str, str]]):
    """One viewer panel: the derived DICOM plus labelmap/heatmap layers per the viewer
    contract (templates/viewer/viewer.html); layers are (kind, file name, label)."""
    import json

    overlays = []
    for kind, name, label in layers:
        url = _file_url(run, name)
        if url is None:
            continue
        layer = {"type": kind, "url": url, "label": label, "opacity": 0.5}
        if kind == "labelmap":
            layer["legend"] = run.summary.get("legend", [])
        overlays.append(layer)
    prompt_box = (run.summary or {}).get("prompt_box")
    if prompt_box:
        # The resident's prompt as a layer of its own, drawn over the model's mask.
        overlays.append(
            {"type": "boxes", "label": "Your box (the prompt)", "boxes": [{"box": prompt_box}]}
        )
    return {
        "title": title,
        "image_urls": json.dumps([_file_url(run, image)]),
        "overlays": json.dumps(overlays),
        "link": f"lab-run-{run.pk}",
    }


def lab_run_is_partial(run: LabRun) -> bool:
    """A failed run that kept what finished before it stopped (e.g. for time)."""
    return run.status == "failed" and bool((run.summary or {}).get("partial")) and bool(run.outputs)


def lab_run_result_display(run: LabRun) -> dict:
    """Everything the result page draws, from the run's stored summary and files."""
    from django.urls import reverse

    from zoo.explainers.registry import EXPLAINERS

    summary = run.summary or {}
    kind = run.parameters.get("kind", "break-it")
    explainers = [
        (key, EXPLAINERS[key].title)
        for key in run.parameters.get("explainer_keys", [])
        if key in EXPLAINERS
    ]
    sides = ["original"] + (["perturbed"] if "perturbed.dcm" in run.outputs else [])
    side_titles = {"original": "Original", "perturbed": "Perturbed"}
    viewers = [
        _viewer(
            run,
            title=side_titles[side],
            image=f"{side}.dcm",
            layers=[("labelmap", f"prediction-{side}.png", "Model output")]
            + [("heatmap", f"saliency-{key}-{side}.png", title) for key, title in explainers],
        )
        for side in sides
    ]
    if kind == "explain":
        viewers.append(
            _viewer(
                run,
                title="Original, maps of the scrambled model",
                image="original.dcm",
                layers=[
                    ("heatmap", f"sanity-{key}-all.png", f"{title}, all weights scrambled")
                    for key, title in explainers
                ],
            )
        )
    pictures = []
    for side in sides:
        pictures.append((f"{side}-view.png", f"{side_titles[side]} image", side_titles[side]))
        pictures.append(
            (
                f"prediction-{side}-view.png",
                f"Model output on the {side} image",
                f"Model on {side}",
            )
        )
    saliency_rows = []
    for key, title in explainers:
        row = {"title": title, "pictures": []}
        for side in sides:
            row["pictures"].append((f"saliency-{key}-{side}-view.png", f"{title}, {side}"))
        for stage, words in (("top", "top block scrambled"), ("all", "all blocks scrambled")):
            row["pictures"].append((f"sanity-{key}-{stage}-view.png", f"{title}, {words}"))
        row["pictures"] = [
            (_file_url(run, name), caption)
            for name, caption in row["pictures"]
            if name in run.outputs
        ]
        row["sanity"] = summary.get("sanity", {}).get(key, [])
        saliency_rows.append(row)

    def probability_rows():
        def probabilities(prediction):
            if not prediction:
                return None
            return prediction.get("probabilities") or (prediction.get("case") or {}).get(
                "probabilities"
            )

        before = probabilities(summary.get("original"))
        after = probabilities(summary.get("perturbed"))
        if not before:
            return []
        rows = []
        for index, (name, value) in enumerate(before):
            changed = after[index][1] if after else None
            rows.append(
                {
                    "name": name,
                    "original": value,
                    "perturbed": changed,
                    "delta": changed - value if changed is not None else None,
                }
            )
        return rows

    return {
        "kind": kind,
        "partial": bool(summary.get("partial")),
        "viewers": viewers,
        "pictures": [
            (_file_url(run, name), alt, caption)
            for name, alt, caption in pictures
            if name in run.outputs
        ],
        "legend": summary.get("legend", []),
        "probabilities": probability_rows(),
        "boxes": {
            side: (summary.get(side) or {}).get("boxes")
            for side in sides
            if (summary.get(side) or {}).get("boxes") is not None
        },
        "saliency": saliency_rows,
        "slice_number": summary.get("slice_number"),
        "slice_count": summary.get("slice_count"),
        "model_card_url": reverse("labs:model_card", args=[run.parameters["model_key"]]),
    }


def lab_run_questions(run: LabRun) -> list[dict]:
    """The exercise's questions with this run's answers."""
    return run_answers_rows(prompts=run.exercise.question_prompts, answers=run.answers or {})


def lab_own_model_choices(*, user) -> list[tuple[str, str]]:
    """(zoo key, title) of models this user trained in the model builder (which registers
    them with the zoo: labs does not import its sibling)."""
    from zoo.registry import model_choices_for_user

    return model_choices_for_user(user=user)


def lab_run_by_pk(pk: int) -> LabRun | None:
    """The run with its exercise and owner, or None (access: "labs.view_run" and friends)."""
    return LabRun.objects.select_related("exercise", "user").filter(pk=pk).first()
