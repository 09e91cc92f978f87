"""The ViewerBlock an educator puts in a lesson: chooses library series, validates, and
renders the viewer panel with the right data attributes (no browser needed)."""

import json

import pytest
from django.core.exceptions import ValidationError

from studies.blocks import ViewerBlock, image_series_choices, overlay_series_choices
from tests.browser import viewer_support

# Fixtures shared by the viewer's tests.
viewer_library_build = viewer_support.viewer_library_build
viewer_studies = viewer_support.viewer_studies

pytestmark = pytest.mark.django_db(transaction=True)


def test_block_offers_library_series_and_renders_the_viewer(viewer_studies):
    ct = viewer_studies["chest-ct"]
    ct_series = ct.series.get(modality="CT")
    seg_series = ct.series.get(modality="SEG", series_number=2)
    assert ct_series.series_instance_uid in dict(image_series_choices())
    assert seg_series.series_instance_uid not in dict(image_series_choices())
    assert seg_series.series_instance_uid in dict(overlay_series_choices())
    # The study chooser never offers a quarantined study (issue 17 item 7), image or overlay.
    type(ct).objects.filter(pk=ct.pk).update(is_quarantined=True)
    assert ct_series.series_instance_uid not in dict(image_series_choices())
    assert seg_series.series_instance_uid not in dict(overlay_series_choices())
    offered = dict(ViewerBlock().child_blocks["series"].field.choices)
    assert ct_series.series_instance_uid not in offered  # what the editor's drop-down lists
    type(ct).objects.filter(pk=ct.pk).update(is_quarantined=False)

    block = ViewerBlock()
    value = block.clean(
        block.to_python(
            {
                "series": ct_series.series_instance_uid,
                "initial_slice": 70,
                "window_preset": "lung",
                "overlays": [seg_series.series_instance_uid],
                "caption": "Right lower lobe nodule",
            }
        )
    )
    html = block.render(value)
    assert "data-viewer" in html
    assert f'data-study="{ct.study_instance_uid}"' in html
    assert f'data-series="{ct_series.series_instance_uid}"' in html
    assert 'data-slice="70"' in html and 'data-preset="lung"' in html
    assert "Right lower lobe nodule" in html
    assert "dist/viewer.js" in html
    overlays = html.split('data-overlays="')[1].split('"')[0].replace("&quot;", '"')
    assert json.loads(overlays) == [{"type": "seg", "series": seg_series.series_instance_uid}]


def test_block_refuses_a_slice_beyond_the_series(viewer_studies):
    ct_series = viewer_studies["chest-ct"].series.get(modality="CT")
    block = ViewerBlock()
    with pytest.raises(ValidationError):
        block.clean(
            block.to_python({"series": ct_series.series_instance_uid, "initial_slice": 500})
        )
