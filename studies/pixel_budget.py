"""How much memory decoding an instance's pixels may take, known before anything decodes.

A compressed instance of a few kilobytes can declare an image of gigabytes (a
decompression bomb: 1.9 KB of JPEG-LS declaring 8192 x 8192 x 16 bit took 1.7 GB and
5.8 s per rendering). The decoded size follows from the header (PS3.3 C.7.6.3: Rows x
Columns x SamplesPerPixel x BitsAllocated per frame, x NumberOfFrames), and for JPEG and
JPEG-LS also from the bitstream's own frame header (ISO/IEC 10918-1 B.2.2 SOF, ISO/IEC
14495-1 C.2.2 SOF55), which a decoder obeys whatever the DICOM header says. Both are held
to two settings: DICOM_DECODED_FRAME_MAX_BYTES (one frame: what rendering and frame
decoding hold at once) and DICOM_DECODED_INSTANCE_MAX_BYTES (every frame together).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from pydicom.dataset import Dataset

DEFAULT_FRAME_MAX_BYTES = 64 * 1024 * 1024  # a 4096 x 4096 x 16-bit image is 32 MiB
DEFAULT_INSTANCE_MAX_BYTES = 1024 * 1024 * 1024

JPEG_SYNTAXES = frozenset(
    {
        "1.2.840.10008.1.2.4.50",
        "1.2.840.10008.1.2.4.51",
        "1.2.840.10008.1.2.4.57",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.4.80",
        "1.2.840.10008.1.2.4.81",
    }
)
# SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC); SOF55 for JPEG-LS.
_START_OF_FRAME = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}


class PixelBudgetExceeded(ValueError):
    """Decoding would take more memory than the site allows; the message says how much."""


class NotAJpegBitstream(ValueError):
    """A frame of a JPEG transfer syntax whose bytes are not a JPEG bitstream."""


@dataclass(frozen=True)
class DeclaredPixels:
    rows: int
    columns: int
    samples: int
    bits_allocated: int
    frames: int

    @property
    def frame_bytes(self) -> int:
        return (self.rows * self.columns * self.samples * self.bits_allocated + 7) // 8

    @property
    def total_bytes(self) -> int:
        return self.frame_bytes * self.frames


def _mib(size: float) -> str:
    """A size in the largest binary unit that keeps it at least 1 (e.g. "128 MiB")."""
    for unit in ("bytes", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def declared_pixels(ds: Dataset) -> DeclaredPixels:
    """What the header declares; ValueError when a value is missing, negative or no
    integer (an image without its size cannot be decoded at all)."""

    def integer(keyword: str, default: int | None) -> int:
        value = ds.get(keyword)
        if value in (None, ""):
            if default is None:
                raise ValueError(f"{keyword} is missing")
            return default
        number = int(value)
        if number < 0:
            raise ValueError(f"{keyword} is negative")
        return number

    return DeclaredPixels(
        rows=integer("Rows", None),
        columns=integer("Columns", None),
        samples=max(1, integer("SamplesPerPixel", 1)),
        bits_allocated=max(1, integer("BitsAllocated", 8)),
        frames=max(1, integer("NumberOfFrames", 1)),
    )


def pixel_budget_check(declared: DeclaredPixels, *, frames_wanted: int | None = None) -> None:
    """Raise PixelBudgetExceeded when one frame, or the frames wanted (all by default),
    would decode to more than the configured budget."""
    frame_limit = getattr(settings, "DICOM_DECODED_FRAME_MAX_BYTES", DEFAULT_FRAME_MAX_BYTES)
    total_limit = getattr(settings, "DICOM_DECODED_INSTANCE_MAX_BYTES", DEFAULT_INSTANCE_MAX_BYTES)
    size = (
        f"{declared.columns} x {declared.rows} pixels x {declared.samples} sample(s) x "
        f"{declared.bits_allocated} bits"
    )
    if declared.frame_bytes > frame_limit:
        raise PixelBudgetExceeded(
            f"Each frame declares {size} = {_mib(declared.frame_bytes)} decoded; this site "
            f"decodes at most {_mib(frame_limit)} per frame."
        )
    frames = declared.frames if frames_wanted is None else frames_wanted
    if declared.frame_bytes * frames > total_limit:
        raise PixelBudgetExceeded(
            f"{frames} frames of {size} = {_mib(declared.frame_bytes * frames)} decoded; "
            f"this site decodes at most {_mib(total_limit)} at once."
        )


def jpeg_frame_size(bitstream: bytes) -> tuple[int, int, int]:
    """(rows, columns, components) from a JPEG or JPEG-LS frame's SOF segment, reading
    only marker segments up to it; NotAJpegBitstream when there is none."""
    if bitstream[:2] != b"\xff\xd8":
        raise NotAJpegBitstream("the frame does not start with a JPEG SOI marker")
    offset = 2
    while offset + 4 <= len(bitstream):
        if bitstream[offset] != 0xFF:
            raise NotAJpegBitstream(f"no JPEG marker at byte {offset}")
        marker = bitstream[offset + 1]
        if marker == 0xFF:  # fill byte (B.1.1.2)
            offset += 1
            continue
        length = int.from_bytes(bitstream[offset + 2 : offset + 4], "big")
        if marker in _START_OF_FRAME:
            segment = bitstream[offset + 4 : offset + 2 + length]
            if len(segment) < 6:
                break
            rows = int.from_bytes(segment[1:3], "big")
            columns = int.from_bytes(segment[3:5], "big")
            return rows, columns, segment[5]
        if length < 2:
            break
        offset += 2 + length
    raise NotAJpegBitstream("the JPEG bitstream has no frame header (SOF)")


def jpeg_frame_check(bitstream: bytes, declared: DeclaredPixels) -> None:
    """Refuse a JPEG frame that is no JPEG, or whose own header declares a larger image
    than the DICOM header (the decoder would allocate what the bitstream says)."""
    rows, columns, components = jpeg_frame_size(bitstream)
    if rows * columns * components > declared.rows * declared.columns * declared.samples:
        raise PixelBudgetExceeded(
            f"The JPEG bitstream declares {columns} x {rows} x {components}, larger than "
            f"the header's {declared.columns} x {declared.rows} x {declared.samples}."
        )
