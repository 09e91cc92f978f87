"""Pictures of lab results: windowed greyscale and label overlays as PNG bytes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# Colour per tissue class, chosen to stay distinguishable for the common colour-vision
# deficiencies (Okabe-Ito palette); class 0 (air) stays transparent.
LABEL_COLOURS = np.array(
    [[0, 0, 0], [230, 159, 0], [86, 180, 233], [240, 228, 66], [204, 121, 167]],
    dtype=np.float32,
)


def window_to_grey(image: np.ndarray, *, centre: float, width: float) -> np.ndarray:
    """Linear VOI window (PS3.3 C.11.2.1.2 without the 0.5 offsets): uint8 greyscale."""
    low = centre - width / 2.0
    scaled = (image - low) / width
    return (np.clip(scaled, 0.0, 1.0) * 255.0).astype(np.uint8)


def png_bytes(pixels: np.ndarray, *, upscale: int = 1) -> bytes:
    picture = Image.fromarray(pixels)
    if upscale > 1:
        picture = picture.resize(
            (picture.width * upscale, picture.height * upscale), Image.Resampling.NEAREST
        )
    buffer = io.BytesIO()
    # Fast deflate: these pictures are written on every run, while a resident waits.
    picture.save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()


def labels_overlay(grey: np.ndarray, labels: np.ndarray, *, opacity: float = 0.45) -> np.ndarray:
    """Blend class colours over a greyscale image; label 0 is left unpainted."""
    rgb = np.repeat(grey[..., None].astype(np.float32), 3, axis=2)
    colours = LABEL_COLOURS[np.clip(labels, 0, len(LABEL_COLOURS) - 1)]
    painted = labels > 0
    rgb[painted] = (1 - opacity) * rgb[painted] + opacity * colours[painted]
    return rgb.astype(np.uint8)


def label_colour_hex(index: int) -> str:
    """The legend colour of label `index` (1-based classes; 0 is never painted)."""
    r, g, b = LABEL_COLOURS[1 + (index - 1) % (len(LABEL_COLOURS) - 1)]
    return f"#{int(r):02x}{int(g):02x}{int(b):02x}"


def labels_overlay_any(grey: np.ndarray, labels: np.ndarray, *, opacity: float = 0.45):
    """`labels_overlay` for any number of classes (colours repeat after four)."""
    wrapped = np.where(labels > 0, 1 + (labels - 1) % (len(LABEL_COLOURS) - 1), 0)
    return labels_overlay(grey, wrapped, opacity=opacity)


def labelmap_png(labels: np.ndarray) -> bytes:
    """The viewer's labelmap layer: 8-bit, pixel value = label index, image-sized."""
    return png_bytes(np.clip(labels, 0, 255).astype(np.uint8))


def heatmap_png(values: np.ndarray) -> bytes:
    """The viewer's heatmap layer: 8-bit greyscale, value / 255 = normalised saliency."""
    return png_bytes((np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


# Anchor colours of matplotlib's "inferno" ramp (perceptually uniform, dark = low).
_INFERNO = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], np.float32
)


def heatmap_overlay(grey: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Saliency drawn over greyscale (for pages without the viewer): inferno ramp, with
    opacity growing with the value so low saliency leaves the anatomy visible."""
    values = np.clip(values, 0.0, 1.0)
    position = values * (len(_INFERNO) - 1)
    lower = np.floor(position).astype(int).clip(0, len(_INFERNO) - 2)
    fraction = (position - lower)[..., None]
    colours = _INFERNO[lower] * (1 - fraction) + _INFERNO[lower + 1] * fraction
    alpha = (0.75 * values)[..., None]
    rgb = np.repeat(grey[..., None].astype(np.float32), 3, axis=2)
    return (rgb * (1 - alpha) + colours * alpha).astype(np.uint8)


def boxes_draw(rgb: np.ndarray, boxes: np.ndarray, *, colour=(255, 64, 64)) -> np.ndarray:
    """Outline detection boxes (row0, column0, row1, column1, inclusive) in place."""
    for row0, column0, row1, column1 in np.asarray(boxes, dtype=int).reshape(-1, 4):
        rgb[row0, column0 : column1 + 1] = colour
        rgb[row1, column0 : column1 + 1] = colour
        rgb[row0 : row1 + 1, column0] = colour
        rgb[row0 : row1 + 1, column1] = colour
    return rgb


def derived_dicom_bytes(
    source, *, values: np.ndarray, series_uid: str, description: str, derivation: str
) -> bytes:
    """A DICOM Part 10 file of `values` (modality units) with the source's geometry.

    New SOP and Series Instance UIDs, ImageType DERIVED\\SECONDARY, a Source Image Sequence
    pointing at the library instance, MONOCHROME2 (values are already high = bright), and
    16-bit stored values with a rescale chosen to keep one modality unit of precision
    (finer for images whose whole range is small, e.g. normalised MR).
    """
    import copy

    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    values = np.asarray(values, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    span = high - low
    if 256 <= span < 65535:
        slope, intercept = 1.0, float(np.floor(low))
    else:
        slope, intercept = (span / 65535.0 if span > 0 else 1.0), low
    stored = np.clip(np.round((values - intercept) / slope), 0, 65535).astype(np.uint16)

    dataset = pydicom.Dataset()
    for element in source:
        if element.tag.group in (0x7FE0,) or element.tag.is_private:
            continue
        dataset.add(copy.deepcopy(element))
    sop_uid = generate_uid()
    dataset.SOPInstanceUID = sop_uid
    dataset.SeriesInstanceUID = series_uid
    dataset.SeriesDescription = description[:64]
    dataset.ImageType = ["DERIVED", "SECONDARY"]
    dataset.DerivationDescription = derivation[:1024]
    reference = Dataset()
    reference.ReferencedSOPClassUID = source.SOPClassUID
    reference.ReferencedSOPInstanceUID = source.SOPInstanceUID
    dataset.SourceImageSequence = [reference]
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = dataset.BitsStored = 16
    dataset.HighBit = 15
    dataset.PixelRepresentation = 0
    dataset.RescaleSlope = f"{slope:.10g}"
    dataset.RescaleIntercept = f"{intercept:.10g}"
    dataset.Rows, dataset.Columns = stored.shape
    for stale in (
        "LargestImagePixelValue",
        "SmallestImagePixelValue",
        "PixelPaddingValue",
        "ModalityLUTSequence",
    ):
        if stale in dataset:
            delattr(dataset, stale)
    dataset.PixelData = stored.tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = source.SOPClassUID
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.file_meta = meta
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
