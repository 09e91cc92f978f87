"""Hostile DICOM instances built from pydicom's CT_small: decompression bombs, JPEG frames
that are no JPEG, sequences nested too deep. Shared by the bad-input and fuzz tests and
by bench/dicom_bomb.py."""

from __future__ import annotations

import io

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import UID, JPEGBaseline8Bit, JPEGLSLossless, generate_uid

BOMB_SIDE = 8192  # 8192 x 8192 x 16 bit: 128 MiB decoded per frame


def part10(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ct_small() -> Dataset:
    """CT_small with fresh instance UIDs, so each hostile copy is its own instance."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def _encapsulated(ds: Dataset, *, syntax, frames: list[bytes], rows: int, columns: int):
    ds.file_meta.TransferSyntaxUID = syntax
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return ds


def jpeg_ls_bomb_bitstream(*, rows: int = BOMB_SIDE, columns: int = BOMB_SIDE) -> bytes:
    """A JPEG-LS bitstream of a `rows` x `columns` 16-bit black image: the real encoder,
    so a decoder really allocates the whole image (seconds to encode a large one)."""
    import jpeg_ls

    return bytes(jpeg_ls.encode(np.zeros((rows, columns), np.uint16)))


def jpeg_ls_bomb(bitstream: bytes | None = None) -> bytes:
    """A JPEG-LS instance of about 2 KB declaring 8192 x 8192 x 16 bit. Without a
    `bitstream`, an 8-row encoding whose frame header is rewritten to 8192 rows: it
    declares the bomb everywhere but would not decode (tests never let it get that far)."""
    if bitstream is None:
        small = bytearray(jpeg_ls_bomb_bitstream(rows=8))
        sof = small.index(b"\xff\xf7")
        small[sof + 5 : sof + 7] = BOMB_SIDE.to_bytes(2, "big")
        bitstream = bytes(small)
    ds = ct_small()
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds = _encapsulated(
        ds, syntax=JPEGLSLossless, frames=[bitstream], rows=BOMB_SIDE, columns=BOMB_SIDE
    )
    return part10(ds)


def jpeg_baseline_not_jpeg(*, with_jpeg_header: bool = False) -> bytes:
    """Declared JPEG Baseline; its one fragment is text, or a JPEG frame header followed
    by garbage instead of entropy-coded data."""
    if with_jpeg_header:
        sof = b"\xff\xc0\x00\x0b\x08\x00\x80\x00\x80\x01\x01\x11\x00"
        fragment = b"\xff\xd8" + sof + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x00" * 64
    else:
        fragment = b"this is not a JPEG bitstream, whatever the header says " * 4
    ds = ct_small()
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    return part10(
        _encapsulated(ds, syntax=JPEGBaseline8Bit, frames=[fragment], rows=128, columns=128)
    )


def deeply_nested(depth: int) -> bytes:
    """CT_small with a Content Sequence nested `depth` levels deep."""
    ds = ct_small()
    innermost = Dataset()
    innermost.TextValue = "leaf"
    for _ in range(depth):
        outer = Dataset()
        outer.ContentSequence = Sequence([innermost])
        innermost = outer
    ds.ContentSequence = innermost.ContentSequence
    return part10(ds)


def htj2k_without_a_decoder() -> bytes:
    """Declared High-Throughput JPEG 2000, a syntax no decoder installed here reads (its
    pydicom decoders need pylibjpeg-openjpeg); the bitstream is a J2K codestream marker and
    filler."""
    ds = ct_small()
    fragment = b"\xff\x4f\xff\x51" + b"\x00" * 60
    return part10(
        _encapsulated(
            ds, syntax=UID("1.2.840.10008.1.2.4.201"), frames=[fragment], rows=128, columns=128
        )
    )
