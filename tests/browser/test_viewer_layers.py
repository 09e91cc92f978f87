"""Lab-output layers in Chromium: DICOM Part 10 slices by URL (wadouri:) with a heat map and a
label map drawn over them. The slice is a phantom (flat soft tissue with a bright square at a
known place) and the label map labels exactly that square, so alignment is checked against
the image itself: the labelled square on screen must cover the bright square on screen after
zoom, pan, rotation and flip. Visibility and opacity change pixels; a layer bound to one
slice is not drawn on another; linked viewers zoom together and show the same layers."""

import json

import numpy as np
import pytest
from playwright.sync_api import expect

from studies.selectors import library_root
from tests.browser import viewer_support
from tests.browser.session import log_in
from tests.browser.viewer_support import (
    LAYER_FILES,
    LAYER_PAGE,
    phantom_slice_write,
    png_write,
    slice_wait,
    viewer_call,
    viewer_open,
    viewport_rgb,
)

# Fixtures shared by the viewer's browser tests.
viewer_library_build = viewer_support.viewer_library_build
viewer_studies = viewer_support.viewer_studies

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# (row0, col0, row1, col1) of the labelled squares, end exclusive, in the 512 x 512 slice.
BRIGHT_SQUARE = (180, 150, 244, 214)  # 1000 HU in the image, label 1 in the label map
DARK_SQUARE = (300, 320, 340, 360)  # -400 HU in the image, label 2
LABEL_1 = (0x4F, 0xA3, 0xFF)
LEGEND = [
    {"value": 1, "name": "bright insert", "colour": "#4fa3ff"},
    {"value": 2, "name": "dark insert", "colour": "#e69f00"},
]


@pytest.fixture
def layer_files(viewer_studies, tmp_path, settings):
    """Two phantom slices (the chest CT's geometry) and their PNG maps, served by the
    test-only URLconf to signed-in users."""
    settings.ROOT_URLCONF = "tests.browser.viewer_support"
    ct = viewer_studies["chest-ct"]
    template = library_root() / (
        ct.series.get(modality="CT").instances.order_by("instance_number")[59].file_path
    )
    r0, c0, r1, c1 = BRIGHT_SQUARE
    d0, e0, d1, e1 = DARK_SQUARE
    phantom_slice_write(
        template=template,
        out=tmp_path / "one.dcm",
        squares=[(r0, c0, r1, c1, 1000), (d0, e0, d1, e1, -400)],
    )
    phantom_slice_write(
        template=template, out=tmp_path / "two.dcm", squares=[(60, 60, 120, 120, 600)]
    )
    # The "perturbed" copy of one.dcm: one bright spot more, so its own automatic window
    # (from its pixel range: the phantoms carry no window) is not the original's.
    phantom_slice_write(
        template=template,
        out=tmp_path / "one-perturbed.dcm",
        squares=[(r0, c0, r1, c1, 1000), (d0, e0, d1, e1, -400), (10, 10, 14, 14, 3000)],
    )
    labels = np.zeros((512, 512))
    labels[r0:r1, c0:c1] = 1
    labels[d0:d1, e0:e1] = 2
    png_write(tmp_path / "labels.png", labels)
    rows, columns = np.mgrid[0:512, 0:512]
    saliency = 255 * np.exp(-((rows - 256) ** 2 + (columns - 400) ** 2) / (2 * 45.0**2))
    png_write(tmp_path / "saliency.png", saliency)
    LAYER_FILES.clear()
    LAYER_FILES.update(
        {
            "one.dcm": (tmp_path / "one.dcm", "application/dicom"),
            "two.dcm": (tmp_path / "two.dcm", "application/dicom"),
            "one-perturbed.dcm": (tmp_path / "one-perturbed.dcm", "application/dicom"),
            "labels.png": (tmp_path / "labels.png", "image/png"),
            "saliency.png": (tmp_path / "saliency.png", "image/png"),
        }
    )
    yield
    LAYER_FILES.clear()
    LAYER_PAGE["viewers"] = []


def _viewer_config(*, link: str = "", caption: str = "") -> dict:
    files = "/viewer-test/files"
    return {
        "image_urls": json.dumps([f"{files}/one.dcm", f"{files}/two.dcm"]),
        "overlays": json.dumps(
            [
                {
                    "type": "labelmap",
                    "url": f"{files}/labels.png",
                    "label": "Model output",
                    "legend": LEGEND,
                    "opacity": 1.0,
                    "slice": 1,
                },
                {"type": "heatmap", "url": f"{files}/saliency.png", "label": "Grad-CAM"},
            ]
        ),
        "preset": "mediastinum",
        "link": link,
        "caption": caption,
    }


def _layers_ready(viewer):
    viewer.locator("xpath=self::*[@data-layers='ready']").wait_for(timeout=30_000)


def _layer(viewer, title: str):
    return viewer.locator("fieldset.viewer-layer", has_text=title)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, columns = np.nonzero(mask)
    assert rows.size, "nothing found on screen"
    return rows.min(), columns.min(), rows.max(), columns.max()


def _alignment_check(viewer, directory, name: str) -> None:
    """The labelled square (label 1's colour, layer shown) covers the bright square (layer
    hidden) to within a pixel, in screen pixels."""
    labels = _layer(viewer, "Model output").get_by_label("Show")
    labels.uncheck()
    hidden = viewport_rgb(viewer, directory / f"{name}-hidden.png")
    labels.check()
    shown = viewport_rgb(viewer, directory / f"{name}-shown.png")
    bright = _bbox((hidden >= 252).all(axis=2))  # white; the page around is #f7f7f7
    labelled = _bbox((np.abs(shown - np.array(LABEL_1)) <= 6).all(axis=2))
    assert np.allclose(bright, labelled, atol=1.5), (name, bright, labelled)
    # And a pixel in the middle of the square is the label's colour, not the image's white.
    middle = ((bright[0] + bright[2]) // 2, (bright[1] + bright[3]) // 2)
    assert tuple(shown[middle]) == pytest.approx(LABEL_1, abs=6), (name, shown[middle])


def test_heatmap_and_labelmap_layers_over_files_by_url(
    live_server, people, layer_files, browser_page, screenshot_dir
):
    page = browser_page
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: print("console:", message.type, message.text))
    LAYER_PAGE["viewers"] = [_viewer_config(caption="Phantom with a model's output")]
    log_in(page, live_server.url, people["resident"].username)
    viewer = viewer_open(page, f"{live_server.url}/viewer-test/layers/")
    assert viewer.get_attribute("data-state") == "ready", viewer.locator(
        ".viewer-message"
    ).text_content()
    _layers_ready(viewer)
    page.screenshot(path=screenshot_dir / "0-page.png", full_page=True)
    # The files' own headers name the series, the slice count and the window.
    series = viewer.locator("[data-corner=tl]").text_content()
    assert series.startswith("CT ") and series.endswith("Phantom"), series
    assert viewer.locator("[data-corner=tr]").text_content() == "Im 1/2"
    assert viewer.locator("[data-corner=bl]").text_content() == "W 350 L 50"
    # Legends: the label map's names, the heat map's ramp from low to high.
    legend = _layer(viewer, "Model output").locator(".viewer-legend").text_content()
    assert "bright insert" in legend and "dark insert" in legend
    assert _layer(viewer, "Grad-CAM").locator(".viewer-ramp").text_content() == "lowhigh"

    # Heat map: visibility and opacity change the pixels where the saliency is.
    heat = _layer(viewer, "Grad-CAM")
    both = viewport_rgb(viewer, screenshot_dir / "1-both-layers.png")
    heat.get_by_label("Show").uncheck()
    no_heat = viewport_rgb(viewer, screenshot_dir / "2-heatmap-hidden.png")
    change = np.abs(both - no_heat).sum(axis=2)
    assert change.mean() > 1, "hiding the heat map did not change the image"
    heat.get_by_label("Show").check()
    heat.locator(".viewer-layer-opacity").fill("100")
    opaque = viewport_rgb(viewer, screenshot_dir / "3-heatmap-opaque.png")
    assert np.abs(opaque - no_heat).sum(axis=2).mean() > change.mean() * 1.3
    # Low saliency is transparent: far from the blob the image shows through unchanged.
    centre = viewer_call(page, "v.imageToPage([400.5, 256.5])")
    corner = viewer_call(page, "v.imageToPage([60.5, 450.5])")
    box = viewer.locator(".viewer-viewport").bounding_box()
    at = lambda point: (int(point[1] - box["y"]), int(point[0] - box["x"]))  # noqa: E731
    assert np.abs(opaque[at(centre)] - no_heat[at(centre)]).sum() > 100
    assert np.abs(opaque[at(corner)] - no_heat[at(corner)]).sum() <= 3
    heat.get_by_label("Show").uncheck()

    # Label map: the labelled square lies on the bright square, as shown and after
    # zoom, pan, rotation and flip.
    _alignment_check(viewer, screenshot_dir, "4-as-loaded")
    viewer.locator(".viewer-viewport").focus()
    page.keyboard.press("+")
    page.keyboard.press("+")
    _alignment_check(viewer, screenshot_dir, "5-zoomed")
    viewer.get_by_role("button", name="Pan").click()
    vbox = viewer.locator(".viewer-viewport").bounding_box()
    page.mouse.move(vbox["x"] + 300, vbox["y"] + 300)
    page.mouse.down()
    page.mouse.move(vbox["x"] + 380, vbox["y"] + 340, steps=8)
    page.mouse.up()
    _alignment_check(viewer, screenshot_dir, "6-panned")
    viewer.locator(".viewer-viewport").focus()
    page.keyboard.press("r")
    page.keyboard.press("h")
    _alignment_check(viewer, screenshot_dir, "7-rotated-flipped")

    # The label map belongs to image 1: on image 2 showing it changes nothing.
    assert "on image 1 only" in _layer(viewer, "Model output").text_content()
    viewer.locator(".viewer-viewport").focus()
    page.keyboard.press("ArrowDown")
    slice_wait(viewer, 2)
    labels = _layer(viewer, "Model output").get_by_label("Show")
    with_labels = viewport_rgb(viewer, screenshot_dir / "8-image-2.png")
    labels.uncheck()
    without = viewport_rgb(viewer, screenshot_dir / "9-image-2-hidden.png")
    assert np.abs(with_labels - without).max() <= 2
    assert with_labels.std() > 5, "image 2 is blank"
    assert not errors, errors


def test_linked_viewers_zoom_together_and_show_the_same_layers(
    live_server, people, layer_files, browser_page, screenshot_dir
):
    page = browser_page
    LAYER_PAGE["viewers"] = [
        _viewer_config(link="run", caption="Original"),
        _viewer_config(link="run", caption="Perturbed"),
    ]
    log_in(page, live_server.url, people["resident"].username)
    left = viewer_open(page, f"{live_server.url}/viewer-test/layers/", index=0)
    right = viewer_open(page, f"{live_server.url}/viewer-test/layers/", index=1)
    _layers_ready(left)
    _layers_ready(right)
    _layer(left, "Grad-CAM").get_by_label("Show").uncheck()
    assert not _layer(right, "Grad-CAM").get_by_label("Show").is_checked()
    _layer(left, "Model output").locator(".viewer-layer-opacity").fill("40")
    assert _layer(right, "Model output").locator(".viewer-layer-opacity").input_value() == "40"
    _layer(left, "Model output").locator(".viewer-layer-opacity").fill("100")

    left.locator(".viewer-viewport").focus()
    before = left.locator("[data-corner=br]").text_content()
    for _ in range(3):
        page.keyboard.press("+")
    expect(left.locator("[data-corner=br]")).not_to_have_text(before, timeout=30_000)
    zoomed = left.locator("[data-corner=br]").text_content()
    expect(right.locator("[data-corner=br]")).to_have_text(zoomed, timeout=30_000)
    _alignment_check(right, screenshot_dir, "right-after-left-zoomed")
    page.screenshot(path=screenshot_dir / "side-by-side.png", full_page=True)


def test_linked_viewers_start_with_one_window_and_keep_it(
    live_server, people, layer_files, browser_page, screenshot_dir
):
    """Original and perturbed open on the same window/level although each image's own
    window differs (the unlinked third viewer shows the perturbed image's own), and a
    window chosen in either is the window of both (issue 17 item 7)."""
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 900})  # stacked, as on a phone
    files = "/viewer-test/files"
    viewers = []
    for name, link, caption in [
        ("one.dcm", "run", "Original"),
        ("one-perturbed.dcm", "run", "Perturbed"),
        ("one-perturbed.dcm", "", "Perturbed, not linked"),
    ]:
        config = _viewer_config(link=link, caption=caption)
        config.update(image_urls=json.dumps([f"{files}/{name}"]), overlays="[]", preset="")
        viewers.append(config)
    LAYER_PAGE["viewers"] = viewers
    log_in(page, live_server.url, people["resident"].username)
    page.goto(f"{live_server.url}/viewer-test/layers/")
    original, perturbed, alone = (page.locator("[data-viewer]").nth(i) for i in range(3))
    for viewer in (original, perturbed, alone):
        viewer.locator("xpath=self::*[@data-state='ready']").wait_for(timeout=60_000)

    def window(viewer) -> str:
        return viewer.locator("[data-corner=bl]").text_content()

    expect(perturbed.locator("[data-corner=bl]")).to_have_text(window(original))
    assert window(alone) != window(original), "the two images' own windows should differ"
    assert original.locator(".viewer-preset").input_value() == "auto"
    assert perturbed.locator(".viewer-preset").input_value() == "auto"
    page.screenshot(path=screenshot_dir / "1-same-window-390.png", full_page=True)

    perturbed.locator(".viewer-preset").select_option("lung")
    expect(perturbed.locator("[data-corner=bl]")).to_have_text("W 1500 L -600")
    expect(original.locator("[data-corner=bl]")).to_have_text("W 1500 L -600")
    expect(original.locator(".viewer-preset")).to_have_value("lung")
    assert window(alone) != "W 1500 L -600"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=screenshot_dir / "2-lung-both-1280.png", full_page=True)


def test_a_map_of_the_wrong_size_is_refused_clearly(
    live_server, people, layer_files, browser_page, screenshot_dir, tmp_path
):
    page = browser_page
    png_write(tmp_path / "small.png", np.zeros((64, 64)))
    LAYER_FILES["small.png"] = (tmp_path / "small.png", "image/png")
    config = _viewer_config()
    config["overlays"] = json.dumps(
        [{"type": "heatmap", "url": "/viewer-test/files/small.png", "label": "Grad-CAM"}]
    )
    LAYER_PAGE["viewers"] = [config]
    log_in(page, live_server.url, people["resident"].username)
    viewer = viewer_open(page, f"{live_server.url}/viewer-test/layers/")
    _layers_ready(viewer)
    layer = _layer(viewer, "Grad-CAM")
    assert "could not be shown: it is 64×64 pixels, the image 512×512" in layer.text_content()
    assert layer.get_by_label("Show").is_disabled()
    page.screenshot(path=screenshot_dir / "wrong-size.png", full_page=True)


def test_an_image_the_user_may_not_fetch_is_refused_clearly(
    live_server, people, layer_files, browser_page, screenshot_dir
):
    page = browser_page
    config = _viewer_config()
    config["image_urls"] = json.dumps(["/viewer-test/files/someone-elses-run.dcm"])
    LAYER_PAGE["viewers"] = [config]
    log_in(page, live_server.url, people["resident"].username)
    viewer = viewer_open(page, f"{live_server.url}/viewer-test/layers/")
    assert viewer.get_attribute("data-state") == "error"
    message = viewer.locator(".viewer-message")
    expect(message).to_be_visible()
    assert message.text_content() == "This image does not exist, or you do not have access to it."
    page.screenshot(path=screenshot_dir / "refused.png", full_page=True)


def test_a_label_map_over_a_radiograph_by_url(
    live_server, people, viewer_studies, layer_files, browser_page, screenshot_dir, tmp_path
):
    """A projection radiograph (MONOCHROME1 CR, no patient-space geometry) takes layers too."""
    page = browser_page
    cr = viewer_studies["chest-cr"].series.get(modality="CR").instances.get()
    LAYER_FILES["cr.dcm"] = (library_root() / cr.file_path, "application/dicom")
    rows, columns = cr.rows, cr.columns
    labels = np.zeros((rows, columns))
    square = (rows // 3, columns // 4, rows // 3 + rows // 8, columns // 4 + rows // 8)
    labels[square[0] : square[2], square[1] : square[3]] = 1
    png_write(tmp_path / "cr-labels.png", labels)
    LAYER_FILES["cr-labels.png"] = (tmp_path / "cr-labels.png", "image/png")
    LAYER_PAGE["viewers"] = [
        {
            "image_urls": json.dumps(["/viewer-test/files/cr.dcm"]),
            "overlays": json.dumps(
                [
                    {
                        "type": "labelmap",
                        "url": "/viewer-test/files/cr-labels.png",
                        "label": "Model output",
                        "legend": LEGEND[:1],
                        "opacity": 1,
                    }
                ]
            ),
        }
    ]
    log_in(page, live_server.url, people["resident"].username)
    viewer = viewer_open(page, f"{live_server.url}/viewer-test/layers/")
    assert viewer.get_attribute("data-state") == "ready", viewer.locator(
        ".viewer-message"
    ).text_content()
    _layers_ready(viewer)
    shown = viewport_rgb(viewer, screenshot_dir / "cr-labels-shown.png")
    middle = viewer_call(
        page, f"v.imageToPage([{(square[1] + square[3]) / 2}, {(square[0] + square[2]) / 2}])"
    )
    box = viewer.locator(".viewer-viewport").bounding_box()
    at = (int(middle[1] - box["y"]), int(middle[0] - box["x"]))
    assert tuple(shown[at]) == pytest.approx(LABEL_1, abs=6)
    labelled = _bbox((np.abs(shown - np.array(LABEL_1)) <= 6).all(axis=2))
    # The square's screen extent is its image extent times the displayed scale.
    top_left = viewer_call(page, f"v.imageToPage([{square[1]}, {square[0]}])")
    bottom_right = viewer_call(page, f"v.imageToPage([{square[3]}, {square[2]}])")
    expected = (
        top_left[1] - box["y"],
        top_left[0] - box["x"],
        bottom_right[1] - box["y"] - 1,
        bottom_right[0] - box["x"] - 1,
    )
    assert np.allclose(labelled, expected, atol=1.5), (labelled, expected)
    _layer(viewer, "Model output").get_by_label("Show").uncheck()
    hidden = viewport_rgb(viewer, screenshot_dir / "cr-labels-hidden.png")
    assert hidden.std() > 20, "the radiograph is blank"
    assert np.abs(shown - hidden).sum(axis=2).mean() > 1
