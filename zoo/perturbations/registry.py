"""Perturbations by key. Adding one is adding one module and one line here.

FGSM and PGD (`adversarial`) are not here: they need a model and its gradients, so the lab
engine calls them directly rather than through a severity alone.
"""

from zoo.perturbations.base import Perturbation
from zoo.perturbations.burned_in_marker import BurnedInMarker
from zoo.perturbations.cropping import Cropping
from zoo.perturbations.ct_beam_hardening import CtBeamHardening
from zoo.perturbations.ct_hu_clipping import CtHuClipping
from zoo.perturbations.ct_low_dose import CtLowDose
from zoo.perturbations.ct_metal_streaks import CtMetalStreaks
from zoo.perturbations.ct_reconstruction_kernel import CtSharpKernel, CtSmoothKernel
from zoo.perturbations.ct_slice_thickness import CtSliceThickness
from zoo.perturbations.downsampling import Downsampling
from zoo.perturbations.gaussian_noise import GaussianNoise
from zoo.perturbations.intensity_rescale import IntensityRescale
from zoo.perturbations.jpeg2000_compression import Jpeg2000Compression
from zoo.perturbations.jpeg_compression import JpegCompression
from zoo.perturbations.left_right_flip import LeftRightFlip
from zoo.perturbations.monochrome_inversion import MonochromeInversion
from zoo.perturbations.mr_bias_field import MrBiasField
from zoo.perturbations.mr_contrast import MrContrastSwap
from zoo.perturbations.mr_defacing import MrDefacing
from zoo.perturbations.mr_gibbs_ringing import MrGibbsRinging
from zoo.perturbations.mr_motion_ghosting import MrMotionGhosting
from zoo.perturbations.mr_rician_noise import MrRicianNoise
from zoo.perturbations.mr_wraparound import MrWraparound
from zoo.perturbations.rotation import Rotation


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
        MrRicianNoise(),
        MrDefacing(),
    )
}


def perturbation_get(key: str) -> Perturbation:
    try:
        return PERTURBATIONS[key]
    except KeyError:
        raise UnknownPerturbation(f"No perturbation {key!r}.") from None


def perturbation_choices() -> list[tuple[str, str]]:
    return [(p.key, p.title) for p in PERTURBATIONS.values()]
