"""Frames and rendered images of an instance (PS3.18 §10.4.1.1.3 frames, §10.4.1.1.4 rendered).

Native (uncompressed) frames are a seek and a read at the offset the index recorded; other
cases go through pydicom: compressed frames are passed through as stored when the client
accepts any transfer syntax, else decoded to Explicit VR Little Endian, never relabelled.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.encaps import get_frame
from pydicom.pixels import pack_bits
from pydicom.pixels import pixel_array as pixels_read
from pydicom.uid import UID, ExplicitVRLittleEndian

from studies.models import Instance
from studies.pixel_budget import declared_pixels, pixel_budget_check

NATIVE_LITTLE_ENDIAN = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})


class FrameNotAvailable(LookupError):
    """A frame number outside 1..NumberOfFrames (answered 404)."""


class TransferSyntaxNotAvailable(ValueError):
    """The client accepts no transfer syntax we can give for these frames (answered 406)."""


class FrameNotDecodable(ValueError):
    """The stored bitstream does not decode (answered 422 with the reason)."""


@dataclass(frozen=True)
class FrameBytes:
    data: bytes
    transfer_syntax_uid: str


def frame_numbers_check(*, instance: Instance, numbers: list[int]) -> None:
    count = instance.number_of_frames
    for number in numbers:
        if number < 1 or number > count:
            raise FrameNotAvailable(
                f"Frame {number} does not exist: this instance has frames 1 to {count}."
                if count
                else "This instance has no pixel data."
            )


def _native_frame_size(instance: Instance) -> int:
    return (
        (instance.rows or 0)
        * (instance.columns or 0)
        * (instance.samples_per_pixel or 1)
        * ((instance.bits_allocated or 8) // 8)
    )


def frames_read(
    *, instance: Instance, path: Path, numbers: list[int], accept_any_syntax: bool
) -> list[FrameBytes]:
    """The frames (1-based) as bytes with their transfer syntax.

    Precondition: `frame_numbers_check` passed. With `accept_any_syntax`, compressed
    frames come as stored (their syntax stated); otherwise every frame is native Explicit
    VR Little Endian, decoded if needed. Raises TransferSyntaxNotAvailable if a compressed
    frame cannot be decoded here.
    """
    syntax = instance.transfer_syntax_uid
    frame_size = _native_frame_size(instance)
    bits = instance.bits_allocated or 8
    fast = (
        syntax in NATIVE_LITTLE_ENDIAN
        and bits % 8 == 0
        and instance.pixel_data_offset is not None
        and instance.pixel_data_length is not None
        and instance.pixel_data_length >= frame_size * instance.number_of_frames
        and path.stat().st_size == instance.file_size
    )
    if fast:
        frames = []
        with path.open("rb") as stream:
            for number in numbers:
                stream.seek(instance.pixel_data_offset + (number - 1) * frame_size)
                frames.append(FrameBytes(stream.read(frame_size), ExplicitVRLittleEndian))
        return frames
    if UID(syntax).is_compressed and accept_any_syntax:
        ds = pydicom.dcmread(path)
        # Pass-through: the frame's compressed bitstream, labelled with its real syntax.
        return [
            FrameBytes(
                get_frame(ds.PixelData, number - 1, number_of_frames=instance.number_of_frames),
                syntax,
            )
            for number in numbers
        ]
    # Decoding: checked against the budget first, then one frame at a time.
    header = pydicom.dcmread(path, stop_before_pixels=True)
    _budget_check(header, frames_wanted=len(numbers))
    frames = []
    for number in numbers:
        try:
            frame = _frame_pixels(path=path, frame_index=number - 1)
        except Exception as exc:
            raise TransferSyntaxNotAvailable(f"Cannot decode {syntax}: {exc}") from None
        if bits == 1:
            # PS3.5 §8.1.1: single-bit frames are packed 8 pixels to a byte.
            data = pack_bits(frame)
        else:
            data = frame.astype(frame.dtype.newbyteorder("<")).tobytes()
        frames.append(FrameBytes(data, ExplicitVRLittleEndian))
    return frames


def _budget_check(header: pydicom.Dataset, *, frames_wanted: int) -> None:
    """PixelBudgetExceeded past the budget; FrameNotDecodable when the size is unreadable."""
    try:
        declared = declared_pixels(header)
    except (TypeError, ValueError) as exc:
        raise FrameNotDecodable(f"The image size cannot be read: {exc}.") from None
    pixel_budget_check(declared, frames_wanted=frames_wanted)


@dataclass(frozen=True)
class RenderRequest:
    media_type: str  # image/jpeg or image/png
    window: tuple[float, float, str] | None  # centre, width, function
    viewport: tuple[int, int] | None
    quality: int = 90


def _frame_pixels(*, path: Path, frame_index: int) -> np.ndarray:
    return pixels_read(path, index=frame_index)


def syntax_decodable(transfer_syntax_uid: str) -> bool:
    """Whether this process has a decoder for the syntax at all (pydicom's plugins plus
    studies.pixel_decoders). A syntax without one is answered 406 with its name; a frame
    that fails in an available decoder is a damaged bitstream (422)."""
    from pydicom.pixels.decoders.base import get_decoder

    try:
        return get_decoder(UID(transfer_syntax_uid)).is_available
    except NotImplementedError:
        return False


def frame_render(*, instance: Instance, path: Path, frame_number: int, request: RenderRequest):
    """An 8-bit image of one frame (PS3.18 §8.3.5.1): Modality LUT, then the VOI window
    (the request's, else the instance's first, else the frame's range), MONOCHROME1
    inverted, then scaled to fit the viewport keeping the aspect ratio. Returns bytes.

    Only that frame is decoded, after its declared size passed the pixel budget (raises
    PixelBudgetExceeded); a syntax with no decoder raises TransferSyntaxNotAvailable, a
    frame that fails to decode FrameNotDecodable. The
    working copy is float32, worked in place: the peak is about 6 bytes per pixel more
    than the decoded frame.
    """
    if not syntax_decodable(instance.transfer_syntax_uid):
        raise TransferSyntaxNotAvailable(
            f"{UID(instance.transfer_syntax_uid).name or instance.transfer_syntax_uid} cannot "
            "be decoded here, so it cannot be rendered; retrieve the instance or its frames "
            "as stored instead."
        )
    header = pydicom.dcmread(path, stop_before_pixels=True)
    _budget_check(header, frames_wanted=1)
    try:
        pixels = _frame_pixels(path=path, frame_index=frame_number - 1)
    except Exception as exc:
        raise FrameNotDecodable(
            f"Frame {frame_number} cannot be decoded "
            f"({UID(instance.transfer_syntax_uid).name}): {str(exc)[:200]}"
        ) from None
    photometric = str(header.get("PhotometricInterpretation", "MONOCHROME2"))
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        image = Image.fromarray(_to_uint8(pixels[..., :3].astype(np.float32)), mode="RGB")
    elif pixels.ndim != 2:
        raise FrameNotDecodable(f"Frame {frame_number} has an unexpected shape {pixels.shape}.")
    else:
        # PS3.3 §C.11.1.1.2 Modality LUT: stored values to modality units.
        values = pixels.astype(np.float32)
        del pixels
        values *= float(header.get("RescaleSlope", 1) or 1)
        values += float(header.get("RescaleIntercept", 0) or 0)
        window = request.window or _instance_window(header) or _range_window(values)
        grey = _voi_apply(values, centre=window[0], width=window[1], function=window[2])
        if photometric == "MONOCHROME1":
            grey = 255 - grey
        image = Image.fromarray(grey, mode="L")
    if request.viewport:
        image.thumbnail(request.viewport, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if request.media_type == "image/png":
        image.save(out, format="PNG")
    else:
        image.save(out, format="JPEG", quality=request.quality)
    return out.getvalue()


def _to_uint8(values: np.ndarray) -> np.ndarray:
    if values.max(initial=0) <= 255:
        return values.clip(0, 255).astype(np.uint8)
    scale = 255.0 / max(values.max(), 1)
    return (values * scale).clip(0, 255).astype(np.uint8)


def _instance_window(header: pydicom.Dataset) -> tuple[float, float, str] | None:
    centre, width = header.get("WindowCenter"), header.get("WindowWidth")
    if centre is None or width is None:
        return None
    first = lambda v: float(v[0] if isinstance(v, pydicom.multival.MultiValue) else v)  # noqa: E731
    function = str(header.get("VOILUTFunction", "LINEAR") or "LINEAR").lower()
    return first(centre), max(first(width), 1.0), function.replace("_", "-")


def _range_window(values: np.ndarray) -> tuple[float, float, str]:
    low, high = float(values.min()), float(values.max())
    return (low + high) / 2, max(high - low, 1.0), "linear-exact"


def _voi_apply(values: np.ndarray, *, centre: float, width: float, function: str) -> np.ndarray:
    """PS3.3 §C.11.2.1.2 (LINEAR), §C.11.2.1.3.1 (LINEAR_EXACT), §C.11.2.1.3.2 (SIGMOID).
    Works in place on `values` (a float32 working copy) to keep the peak memory low."""
    if function == "sigmoid":
        values -= centre
        values *= -4.0 / width
        np.exp(values, out=values)
        values += 1.0
        np.divide(255.0, values, out=values)
    elif function == "linear-exact":
        values -= centre
        values /= width
        values += 0.5
        values *= 255.0
    else:
        width = max(width, 1.0)
        values -= centre - 0.5
        values /= width - 1 if width > 1 else 1
        values += 0.5
        values *= 255.0
    np.clip(values, 0, 255, out=values)
    return values.astype(np.uint8)
