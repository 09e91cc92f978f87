"""Perturbations by key. Adding one is adding one module and one line here.

FGSM and PGD (`adversarial`) are not here: they need a model and its gradients, so the lab
engine calls them directly rather than through a severity alone.
"""

from labs.perturbations.base import Perturbation
from labs.perturbations.burned_in_marker import BurnedInMarker
from labs.perturbations.cropping import Cropping
from labs.perturbations.ct_beam_hardening import CtBeamHardening
from labs.perturbations.ct_hu_clipping import CtHuClipping
from labs.perturbations.ct_low_dose import CtLowDose
from labs.perturbations.ct_metal_streaks import CtMetalStreaks
from labs.perturbations.ct_reconstruction_kernel import CtSharpKernel, CtSmoothKernel
from labs.perturbations.ct_slice_thickness import CtSliceThickness
from labs.perturbations.downsampling import Downsampling
from labs.perturbations.gaussian_noise import GaussianNoise
from labs.perturbations.intensity_rescale import IntensityRescale
from labs.perturbations.jpeg2000_compression import Jpeg2000Compression
from labs.perturbations.jpeg_compression import JpegCompression
from labs.perturbations.left_right_flip import LeftRightFlip
from labs.perturbations.monochrome_inversion import MonochromeInversion
from labs.perturbations.mr_bias_field import MrBiasField
from labs.perturbations.mr_contrast import MrContrastSwap
from labs.perturbations.mr_gibbs_ringing import MrGibbsRinging
from labs.perturbations.mr_motion_ghosting import MrMotionGhosting
from labs.perturbations.mr_wraparound import MrWraparound
from labs.perturbations.rotation import Rotation


class UnknownPerturbation(LookupError):
    pass


PERTURBATIONS: dict[str, Perturbation] = {
    perturbation.key: perturbation
    for perturbation in (
        # any modality
        GaussianNoise(),
        JpegCompression(),
        Jpeg2000Compression(),
        Downsampling(),
        Rotation(),
        LeftRightFlip(),
        Cropping(),
        MonochromeInversion(),
        IntensityRescale(),
        BurnedInMarker(),
        # CT
        CtLowDose(),
        CtMetalStreaks(),
        CtBeamHardening(),
        CtHuClipping(),
        CtSliceThickness(),
        CtSmoothKernel(),
        CtSharpKernel(),
        # MR
        MrMotionGhosting(),
        MrGibbsRinging(),
        MrBiasField(),
        MrWraparound(),
        MrContrastSwap(),
    )
}


def perturbation_get(key: str) -> Perturbation:
    try:
        return PERTURBATIONS[key]
    except KeyError:
        raise UnknownPerturbation(f"No perturbation {key!r}.") from None


def perturbation_choices() -> list[tuple[str, str]]:
    return [(p.key, p.title) for p in PERTURBATIONS.values()]
