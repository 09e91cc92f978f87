"""A pydicom decoder plugin backed by imagecodecs (BSD-3), for the compressed syntaxes that
pydicom's other installed plugins leave undecoded: JPEG Lossless (processes 14, 14 SV1),
12-bit JPEG Extended, and JPEG 2000 codestreams Pillow's OpenJPEG build rejects.

Pillow decodes 8-bit JPEG only, pyjpegls decodes JPEG-LS; the usual answers for the rest,
pylibjpeg-libjpeg, is GPL-3 and python-gdcm refuses 12-bit JPEG Extended. imagecodecs'
libjpeg-turbo 3 decodes lossless and 12-bit JPEG, its OpenJPEG decodes JPEG 2000.

The plugin is added after pydicom's own, so it is only asked when they fail; pydicom then
applies its usual shift/sign corrections and colour handling to what it returns. The module
follows pydicom's plugin contract (`is_available`, `DECODER_DEPENDENCIES`, a frame decoder).
"""

from __future__ import annotations

import contextlib

import numpy as np
from pydicom import uid
from pydicom.pixels.common import PhotometricInterpretation

_JPEG = (uid.JPEGBaseline8Bit, uid.JPEGExtended12Bit, uid.JPEGLossless, uid.JPEGLosslessSV1)
_JPEG_LOSSLESS = (uid.JPEGLossless, uid.JPEGLosslessSV1)
_JPEG_2000 = (uid.JPEG2000Lossless, uid.JPEG2000)

DECODER_DEPENDENCIES = {syntax: ("imagecodecs>=2024.1",) for syntax in (*_JPEG, *_JPEG_2000)}
PLUGIN_LABEL = "artefact-imagecodecs"


def is_available(transfer_syntax: str) -> bool:
    if transfer_syntax not in DECODER_DEPENDENCIES:
        return False
    try:
        import imagecodecs  # noqa: F401
    except ImportError:
        return False
    return True


def decode_frame(src: bytes, runner) -> bytes:
    """One decoded frame, colour-by-pixel, in a container of its decoded sample size."""
    import imagecodecs

    syntax = runner.transfer_syntax
    if syntax in _JPEG:
        pixels = imagecodecs.jpeg8_decode(src)
        if runner.samples_per_pixel > 1 and syntax not in _JPEG_LOSSLESS:
            # libjpeg-turbo converts YCbCr to RGB for lossy JPEG; lossless keeps components.
            runner.set_option("photometric_interpretation", PhotometricInterpretation.RGB)
    else:
        pixels = imagecodecs.jpeg2k_decode(src)
        if runner.photometric_interpretation in (
            PhotometricInterpretation.YBR_ICT,
            PhotometricInterpretation.YBR_RCT,
        ):
            runner.set_option("photometric_interpretation", PhotometricInterpretation.RGB)
    if runner.samples_per_pixel > 1:
        runner.set_option("planar_configuration", 0)
    runner.set_option("bits_allocated", pixels.dtype.itemsize * 8)
    return np.ascontiguousarray(pixels).tobytes()


def pixel_decoders_register() -> None:
    """Add the plugin to pydicom's decoders for its syntaxes (once per process)."""
    from pydicom.pixels.decoders.base import get_decoder

    for syntax in DECODER_DEPENDENCIES:
        # Added already (a second ready()): pydicom refuses a second plugin of one name.
        with contextlib.suppress(ValueError):
            get_decoder(syntax).add_plugin(PLUGIN_LABEL, ("studies.pixel_decoders", "decode_frame"))
