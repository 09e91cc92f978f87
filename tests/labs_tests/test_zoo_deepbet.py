"""deepbet brain extraction on the real Colin27 T1, when its weights are in the cache.

The weights are fetched by `python manage.py zoo_build` (pip download, checksummed); tests
never reach a registry, so without the cache this module is skipped, not failed.
"""

import json

import pytest

from zoo import mr_brain_deepbet
from zoo.weights_files import pinned_wheel_cached

pytestmark = pytest.mark.skipif(
    not pinned_wheel_cached(weights=mr_brain_deepbet.DEEPBET),
    reason="deepbet weights not cached: run `python manage.py zoo_build --only mr-brain-deepbet`",
)


def test_colin27_dice_reaches_the_recorded_value(tmp_path):
    from studies.library import library_build
    from studies.library.sources import MRICRON_DATA, SourceFile, source_file_locate
    from zoo.series import volume_from_nifti_file, volume_from_study_dir

    library_build(out_dir=tmp_path, only=["brain-t1-colin27"])
    volume = volume_from_study_dir(study_dir=tmp_path / "brain-t1-colin27", series_number=1)
    reference = volume_from_nifti_file(
        path=source_file_locate(
            file=SourceFile(source=MRICRON_DATA, path="usr/share/mricron/templates/ch2bet.nii.gz")
        ),
        modality="SEG",
    ).pixels
    output = mr_brain_deepbet.DeepbetBrainExtractor().predict(volume)
    dice = mr_brain_deepbet.dice(predicted=output.labels, reference=reference > 0)
    recorded = json.loads(mr_brain_deepbet.METRICS_PATH.read_text())
    expected = next(
        row for row in recorded["measured"] if row["name"] == "Dice on Colin27 vs ch2bet"
    )
    assert dice == pytest.approx(expected["value"], abs=0.005)
    assert dice > 0.9
