"""Each perturbation changes the image the way its physics says it should.

Synthetic phantoms (built here, in HU or MR intensity) give known ground truth; the real
CT slice of the study library checks that nothing depends on the phantoms' simplicity.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import nn

from studies.selectors import study_series_load
from zoo.perturbations import adversarial
from zoo.perturbations.base import VolumeRequired
from zoo.perturbations.ct_hu_clipping import NARROWEST_WINDOW_HU
from zoo.perturbations.ct_low_dose import noisy_line_integrals
from zoo.perturbations.ct_metal_streaks import MU_STEEL_PER_MM, metal_insert_mask
from zoo.perturbations.ct_projection import (
    HU_STORED_MAX,
    filtered_back_projection,
    hu_to_mu,
    mu_to_hu,
    radon,
    reconstruction_circle,
    view_angles_deg,
)
from zoo.perturbations.jpeg2000_compression import jpeg2000_roundtrip
from zoo.perturbations.registry import PERTURBATIONS, perturbation_get

SIZE = 128
# Random per slice (seed + slice index), so slice 0 of a volume equals the 2-D result only
# for the first slice's seed; these are checked for shape alone in the volume test.
SEEDED_PER_SLICE = {"gaussian-noise"}
MR_SLICE_PERTURBATIONS = {
    "mr-motion-ghosting",
    "mr-gibbs-ringing",
    "mr-bias-field",
    "mr-wraparound",
    "mr-contrast-swap",
    "mr-rician-noise",
}


# --- phantoms -------------------------------------------------------------------------


def _ellipse(*, centre: tuple[float, float], axes: tuple[float, float], angle_deg: float = 0):
    """Boolean ellipse on the SIZE x SIZE grid; centre and semi-axes in units of half-width."""
    coords = (np.arange(SIZE) - (SIZE - 1) / 2.0) / (SIZE / 2.0)
    y, x = np.meshgrid(coords, coords, indexing="ij")
    theta = np.deg2rad(angle_deg)
    dx, dy = x - centre[1], y - centre[0]
    u = dx * np.cos(theta) + dy * np.sin(theta)
    v = -dx * np.sin(theta) + dy * np.cos(theta)
    return (u / axes[1]) ** 2 + (v / axes[0]) ** 2 <= 1.0


def _disc(*, row: float, col: float, radius: float) -> np.ndarray:
    y, x = np.ogrid[:SIZE, :SIZE]
    return (y - row) ** 2 + (x - col) ** 2 <= radius**2


@pytest.fixture(scope="module")
def shepp_logan_hu() -> np.ndarray:
    """A Shepp-Logan-like head in HU: skull, brain, ventricles, small lesions, in air."""
    image = np.full((SIZE, SIZE), -1000.0)
    image[_ellipse(centre=(0, 0), axes=(0.86, 0.66))] = 1000.0  # skull
    image[_ellipse(centre=(-0.02, 0), axes=(0.80, 0.60))] = 35.0  # brain
    image[_ellipse(centre=(0, 0.2), axes=(0.30, 0.10), angle_deg=-18)] = 5.0  # ventricles
    image[_ellipse(centre=(0, -0.2), axes=(0.38, 0.15), angle_deg=18)] = 5.0
    image[_ellipse(centre=(0.33, 0), axes=(0.2, 0.2))] = 60.0  # haemorrhage-like
    image[_ellipse(centre=(-0.5, 0.05), axes=(0.05, 0.05))] = 80.0
    return image.astype(np.float32)


@pytest.fixture(scope="module")
def water_cylinder_hu() -> np.ndarray:
    """A uniform water cylinder (0 HU) in air, filling most of the reconstruction circle."""
    image = np.full((SIZE, SIZE), -1000.0)
    image[_disc(row=63.5, col=63.5, radius=55)] = 0.0
    return image.astype(np.float32)


@pytest.fixture(scope="module")
def ct_slice() -> np.ndarray:
    return study_series_load(study_key="ct-small").pixels[0]


@pytest.fixture(scope="module")
def mr_brain() -> np.ndarray:
    """A T1-like brain: CSF dark, grey matter intermediate, white matter bright, in air."""
    image = np.zeros((SIZE, SIZE))
    image[_ellipse(centre=(0, 0), axes=(0.8, 0.6))] = 300.0  # grey matter
    image[_ellipse(centre=(0, 0), axes=(0.6, 0.42))] = 450.0  # white matter
    image[_ellipse(centre=(0, 0.15), axes=(0.25, 0.08))] = 100.0  # ventricles (CSF)
    image[_ellipse(centre=(0, -0.15), axes=(0.25, 0.08))] = 100.0
    return image.astype(np.float32)


def _high_frequency_power(image: np.ndarray, *, above_cycles_per_pixel: float = 0.25) -> float:
    """Power above a radial frequency; a Hann window keeps the image's borders out of it."""
    window = np.outer(np.hanning(image.shape[0]), np.hanning(image.shape[1]))
    spectrum = np.abs(np.fft.fft2((image - image.mean()) * window)) ** 2
    fy = np.fft.fftfreq(image.shape[0])[:, None]
    fx = np.fft.fftfreq(image.shape[1])[None, :]
    return float(spectrum[np.hypot(fy, fx) > above_cycles_per_pixel].sum())


# --- every perturbation ---------------------------------------------------------------


def _input_for(key: str, *, ct_slice: np.ndarray, mr_brain: np.ndarray) -> np.ndarray:
    if key == "ct-slice-thickness":
        return np.stack([ct_slice + 10.0 * k for k in range(5)])
    return mr_brain if key in MR_SLICE_PERTURBATIONS else ct_slice


@pytest.mark.parametrize("key", sorted(PERTURBATIONS))
def test_every_perturbation_keeps_its_promises(key, ct_slice, mr_brain):
    perturbation = perturbation_get(key)
    image = _input_for(key, ct_slice=ct_slice, mr_brain=mr_brain)
    before = image.copy()
    severity = (perturbation.severity_min + perturbation.severity_max) / 2.0
    if perturbation.severity_max - perturbation.severity_min == 1.0:
        severity = perturbation.severity_max  # on/off perturbations
    result = perturbation.apply(image, severity=severity, seed=3)
    assert np.array_equal(image, before), "the input was modified"
    assert result.dtype == np.float32 and result.shape == image.shape
    assert np.all(np.isfinite(result))
    assert not np.array_equal(result, image), "a mid severity changed nothing"
    assert np.array_equal(perturbation.apply(image, severity=severity, seed=3), result)
    assert perturbation.severity_min < perturbation.severity_max
    assert perturbation.modalities <= {"CT", "MR", "CR", "DX", "US"}
    assert "\n" not in perturbation.explanation and len(perturbation.explanation) > 300


@pytest.mark.parametrize("key", sorted(PERTURBATIONS))
def test_every_perturbation_accepts_a_volume(key, ct_slice, mr_brain):
    perturbation = perturbation_get(key)
    image = mr_brain if key in MR_SLICE_PERTURBATIONS else ct_slice
    volume = np.stack([image, image[::-1]])
    severity = perturbation.severity_max
    result = perturbation.apply(volume, severity=severity, seed=5)
    assert result.shape == volume.shape and result.dtype == np.float32
    # Slice by slice, except where the volume is the point: slice thickness mixes
    # neighbouring slices, and defacing cuts deeper the further a slice lies below the brow
    # (a lone slice is taken to be at the face; test_perturbation_defacing.py checks the
    # volume).
    if key not in {"ct-slice-thickness", "mr-defacing"}:
        first = perturbation.apply(image, severity=severity, seed=5)
        assert np.allclose(result[0], first, atol=1e-3) or key in SEEDED_PER_SLICE


# --- CT: sinogram domain --------------------------------------------------------------


def test_fbp_of_the_noiseless_sinogram_returns_the_image(shepp_logan_hu):
    angles = view_angles_deg()
    # As the perturbations do: HU -> attenuation (air = 0) -> sinogram -> FBP -> HU.
    sinogram = radon(hu_to_mu(shepp_logan_hu), angles_deg=angles)
    reconstructed_mu = filtered_back_projection(
        sinogram, angles_deg=angles, shape=shepp_logan_hu.shape
    )
    reconstructed = mu_to_hu(reconstructed_mu) - 1000.0
    inside = reconstruction_circle(shepp_logan_hu.shape)
    error = reconstructed - shepp_logan_hu
    value_range = np.ptp(shepp_logan_hu)
    # The pixel footprint and the interpolation in back-projection blur edges by ~2 pixels:
    # the error concentrates there; a pixel or more away from an edge it is small.
    assert np.sqrt(np.mean(error[inside] ** 2)) < 0.07 * value_range
    edges = ndimage.binary_dilation(
        ndimage.morphological_gradient(shepp_logan_hu, size=3) > 0, iterations=2
    )
    assert np.sqrt(np.mean(error[inside & ~edges] ** 2)) < 0.01 * value_range
    # Away from edges the HU of soft tissue comes back to within a few HU.
    brain = _disc(row=105, col=63.5, radius=3)
    assert abs(reconstructed[brain].mean() - 35.0) < 5.0


def test_sinogram_noise_variance_is_exp_p_over_photons():
    line_integrals = np.full(200_000, 3.0)
    for photons in (1e4, 1e5):
        noisy = noisy_line_integrals(
            line_integrals, incident_photons=photons, rng=np.random.default_rng(0)
        )
        assert noisy.var() == pytest.approx(np.exp(3.0) / photons, rel=0.05)
        assert noisy.mean() == pytest.approx(3.0, abs=0.01)


def test_low_dose_noise_variance_grows_as_one_over_dose(water_cylinder_hu):
    perturbation = perturbation_get("ct-low-dose")
    centre = _disc(row=63.5, col=63.5, radius=25)
    added_variance = {}
    for reduction in (50.0, 75.0, 87.5):
        noisy = perturbation.apply(water_cylinder_hu, severity=reduction, seed=11)
        difference = (noisy - water_cylinder_hu)[centre]
        assert abs(difference.mean()) < 0.15 * difference.std()  # noise, not a shift
        added_variance[reduction] = difference.var()
    # Variance at dose d is v_full / d; the slice already holds v_full, so the added part is
    # v_full (1/d - 1): 1, 3 and 7 times v_full at 50, 25 and 12.5 % of the dose.
    full_dose_variance = added_variance[50.0]
    assert added_variance[75.0] / full_dose_variance == pytest.approx(3.0, rel=0.25)
    assert added_variance[87.5] / full_dose_variance == pytest.approx(7.0, rel=0.25)
    total = {r: full_dose_variance + v for r, v in added_variance.items()}
    assert total[87.5] / total[50.0] == pytest.approx(4.0, rel=0.25)  # 1/8 vs 1/2 dose


def test_low_dose_leaves_the_mean_hu_of_the_real_slice(ct_slice):
    noisy = perturbation_get("ct-low-dose").apply(ct_slice, severity=98.0, seed=2)
    soft_tissue = (ct_slice > 0) & (ct_slice < 100)
    assert abs((noisy - ct_slice)[soft_tissue].mean()) < 3.0
    assert (noisy - ct_slice)[soft_tissue].std() > 10.0


def test_metal_streaks_grow_with_the_insert_and_darken_the_band_between(water_cylinder_hu):
    perturbation = perturbation_get("ct-metal-streaks")
    mm = perturbation.spacing_for(water_cylinder_hu.shape)
    streak_level = []
    for diameter_mm in (10.0, 20.0, 40.0):
        result = perturbation.apply(water_cylinder_hu, severity=diameter_mm, seed=4)
        metal_px = diameter_mm / mm
        near_metal = _disc(row=63.5, col=36, radius=metal_px) | _disc(
            row=63.5, col=91, radius=metal_px
        )
        water = _disc(row=63.5, col=63.5, radius=50) & ~near_metal
        streak_level.append(np.abs(result - water_cylinder_hu)[water].mean())
        assert result.max() == HU_STORED_MAX  # the metal saturates the stored range
    assert streak_level[0] < streak_level[1] < streak_level[2]
    # Between the two inserts, along the line joining them: the dark band.
    result = perturbation.apply(water_cylinder_hu, severity=30.0, seed=4)
    band = result[62:66, 58:70].mean()
    off_axis = result[30:34, 58:70].mean()
    assert band < off_axis - 50.0


def test_steel_attenuates_as_nist_iron_at_70_kev(water_cylinder_hu):
    """NIST's iron table at 60 and 80 keV (1.205 and 0.595 cm^2/g), interpolated log-log to
    the 70 keV effective energy of a 120 kVp beam, times stainless steel's 7.9 g/cm^3."""
    interpolated = np.exp(np.interp(np.log(70.0), np.log([60.0, 80.0]), np.log([1.205, 0.595])))
    assert pytest.approx(interpolated * 7.9 / 10.0, rel=0.03) == MU_STEEL_PER_MM
    assert 30 < MU_STEEL_PER_MM / 0.0193 < 40  # steel is ~34 times as attenuating as water
    # The insert's rays carry that attenuation: a 20 mm insert's central ray reads about
    # mu x 20 mm more than water would, before the hardening non-linearity.
    perturbation = perturbation_get("ct-metal-streaks").at_pixel_spacing(0.5)
    mask = metal_insert_mask(water_cylinder_hu, diameter_px=20.0 / 0.5)
    assert mask.sum() == pytest.approx(2 * np.pi * 20.0**2, rel=0.1)
    assert perturbation.spacing_for(water_cylinder_hu.shape) == 0.5


def test_projection_physics_uses_the_pixel_spacing_it_is_given(water_cylinder_hu):
    """The same matrix at a smaller pixel is a smaller object: shorter paths, less
    attenuation, more photons, so the added low-dose noise is smaller."""
    perturbation = perturbation_get("ct-low-dose")
    inside = _disc(row=63.5, col=63.5, radius=40)
    noise = {
        spacing: (
            perturbation.at_pixel_spacing(spacing).apply(water_cylinder_hu, severity=90.0, seed=3)
            - water_cylinder_hu
        )[inside].std()
        for spacing in (0.7, 2.8)
    }
    assert noise[0.7] < noise[2.8] / 1.5
    # Without geometry the body field of view stands in: 360 mm over the larger dimension.
    assert perturbation.spacing_for((128, 128)) == pytest.approx(360.0 / 128)
    assert perturbation_get("gaussian-noise").at_pixel_spacing(0.7) is perturbation_get(
        "gaussian-noise"
    )


def test_beam_hardening_cups_water_and_darkens_between_bones(water_cylinder_hu):
    perturbation = perturbation_get("ct-beam-hardening")
    cupped = perturbation.apply(water_cylinder_hu, severity=100.0, seed=0)
    centre = cupped[_disc(row=63.5, col=63.5, radius=5)].mean()
    rim = cupped[_disc(row=63.5, col=63.5, radius=50) & ~_disc(row=63.5, col=63.5, radius=44)]
    assert centre < rim.mean() - 3.0
    bones = water_cylinder_hu.copy()
    bones[_disc(row=63.5, col=35, radius=10)] = 1200.0
    bones[_disc(row=63.5, col=92, radius=10)] = 1200.0
    change = perturbation.apply(bones, severity=100.0, seed=0) - cupped
    assert change[62:66, 55:72].mean() < change[30:34, 55:72].mean() - 10.0
    half = perturbation.apply(bones, severity=50.0, seed=0) - bones
    full = perturbation.apply(bones, severity=100.0, seed=0) - bones
    np.testing.assert_allclose(half, full / 2.0, atol=1e-2)  # linear in the residual


def test_hu_clipping_bounds_values_and_keeps_those_inside(ct_slice):
    clipped = perturbation_get("ct-hu-clipping").apply(ct_slice, severity=100.0, seed=0)
    low, high = NARROWEST_WINDOW_HU
    assert clipped.min() >= low and clipped.max() <= high
    inside = (ct_slice >= low) & (ct_slice <= high)
    assert np.array_equal(clipped[inside], ct_slice[inside])
    assert np.all(clipped[ct_slice < low] == low) and np.all(clipped[ct_slice > high] == high)


def test_thicker_slices_dilute_a_one_slice_nodule_and_refuse_a_single_slice(ct_slice):
    volume = np.zeros((11, 16, 16), dtype=np.float32)
    volume[5, 8, 8] = 500.0
    perturbation = perturbation_get("ct-slice-thickness")
    thick = perturbation.apply(volume, severity=5.0, seed=0)
    assert thick[:, 8, 8].max() == pytest.approx(100.0)  # contrast falls as 1 / thickness
    assert thick[:, 8, 8].sum() == pytest.approx(500.0)  # signal is spread, not lost
    assert np.count_nonzero(thick[:, 8, 8]) == 5
    with pytest.raises(VolumeRequired):
        perturbation.apply(ct_slice, severity=3.0, seed=0)


def test_kernels_sharpen_and_smooth_the_high_frequencies(ct_slice):
    original = _high_frequency_power(ct_slice)
    sharp = perturbation_get("ct-kernel-sharp").apply(ct_slice, severity=3.0, seed=0)
    smooth = perturbation_get("ct-kernel-smooth").apply(ct_slice, severity=3.0, seed=0)
    assert _high_frequency_power(sharp) > 2.0 * original
    assert _high_frequency_power(smooth) < 0.5 * original
    # The mean HU of a large region is a zero-frequency quantity: left alone.
    for filtered in (sharp, smooth):
        assert filtered[32:96, 32:96].mean() == pytest.approx(ct_slice[32:96, 32:96].mean(), abs=5)


# --- MR: k-space ----------------------------------------------------------------------


def test_motion_ghosts_appear_along_the_phase_encode_axis_only():
    image = np.zeros((SIZE, SIZE), dtype=np.float32)
    image[_disc(row=63.5, col=63.5, radius=10)] = 100.0
    ghosted = perturbation_get("mr-motion-ghosting").apply(image, severity=3.0, seed=0)
    object_rows = object_cols = slice(50, 78)
    outside_rows = np.r_[0:48, 80:SIZE]
    along_phase_encode = (ghosted[outside_rows, object_cols] ** 2).sum()
    along_readout = (ghosted[object_rows, outside_rows] ** 2).sum()
    assert along_phase_encode > 0.02 * (image**2).sum()
    assert along_readout < 1e-3 * along_phase_encode
    # Periodic motion every 8 lines puts the first ghost SIZE / 8 = 16 pixels away.
    profile = ghosted[:, 64]
    assert profile[63 - 16 - 10 : 63 - 16 + 10].mean() > 3.0 * profile[0:8].mean()


def test_gibbs_ringing_overshoots_an_edge_by_about_nine_percent():
    step = np.zeros((64, 256), dtype=np.float32)
    step[:, 64:192] = 1.0
    ringing = perturbation_get("mr-gibbs-ringing").apply(step, severity=80.0, seed=0)
    overshoot = ringing.max() - 1.0
    assert 0.07 < overshoot < 0.10  # Wilbraham-Gibbs: 8.95 % of the step
    # The plateau far from the edges stays near 1; the ripple is at the edge.
    assert abs(ringing[:, 128].mean() - 1.0) < 0.03


def test_bias_field_is_smooth_and_multiplicative(mr_brain):
    perturbation = perturbation_get("mr-bias-field")
    uniform = np.full((SIZE, SIZE), 100.0, dtype=np.float32)
    field = perturbation.apply(uniform, severity=40.0, seed=5) / 100.0
    assert field.max() - field.min() == pytest.approx(0.40, rel=0.02)
    assert field.mean() == pytest.approx(1.0, abs=0.01)
    # Smooth: neighbouring pixels differ by a tiny fraction of the field's range.
    assert np.abs(np.diff(field, axis=0)).max() < 0.02
    assert np.abs(np.diff(field, axis=1)).max() < 0.02
    biased = perturbation.apply(mr_brain, severity=40.0, seed=5)
    np.testing.assert_allclose(biased, mr_brain * field, rtol=1e-5)
    assert biased[mr_brain == 0].max() == 0.0  # multiplicative: no signal where there was none


def test_wraparound_folds_signal_from_outside_the_field_of_view():
    image = np.zeros((SIZE, SIZE), dtype=np.float32)
    image[20:80, 40:90] = 100.0  # inside a 50 % field of view (rows 32..95) in part
    image[5:10, 60:70] = 500.0  # above the field: must reappear near its bottom
    folded = perturbation_get("mr-wraparound").apply(image, severity=50.0, seed=0)
    first, kept = 32, 64
    assert np.all(folded[:first] == 0) and np.all(folded[first + kept :] == 0)
    # Row 5 lands on 32 + (5 - 32) mod 64 = 69.
    assert folded[69:74, 60:70].mean() == pytest.approx(500.0 + 100.0)
    assert np.all(image[84:96, 40:90] == 0)  # empty inside the field until rows 20-31 fold in
    assert np.all(folded[84:96, 40:90] == 100.0)
    assert folded.sum() == pytest.approx(image.sum())  # folded, not lost


def test_rician_noise_lifts_the_dark_background_and_spares_bright_tissue_mean(mr_brain):
    """Magnitude noise is Rician: where the signal is 0 the mean rises to sigma sqrt(pi/2)
    (a Rayleigh noise floor), where it is far above sigma the mean stays put."""
    perturbation = perturbation_get("mr-rician-noise")
    noisy = perturbation.apply(mr_brain, severity=10.0, seed=1)
    sigma = 0.10 * np.percentile(np.clip(mr_brain, 0, None), 99)
    background = mr_brain == 0
    white_matter = mr_brain == 450.0
    assert background.any() and white_matter.any()
    assert noisy[background].mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.05)
    assert noisy.min() >= 0.0  # a magnitude is never negative
    assert noisy[white_matter].mean() == pytest.approx(450.0, rel=0.02)
    # Gaussian noise of the same sigma leaves the background's mean at 0.
    gaussian = perturbation_get("gaussian-noise").apply(mr_brain, severity=sigma, seed=1)
    assert abs(gaussian[background].mean()) < 0.05 * sigma


def test_contrast_swap_reverses_the_t1_order_of_tissues(mr_brain):
    t2_like = perturbation_get("mr-contrast-swap").apply(mr_brain, severity=100.0, seed=0)
    csf, grey, white = (t2_like[mr_brain == value].mean() for value in (100.0, 300.0, 450.0))
    assert csf > grey > white
    assert np.all(t2_like[mr_brain == 0] == 0)


# --- any modality ---------------------------------------------------------------------


def test_jpeg_error_grows_as_quality_falls(ct_slice):
    perturbation = perturbation_get("jpeg")
    errors = [
        np.sqrt(np.mean((perturbation.apply(ct_slice, severity=level, seed=0) - ct_slice) ** 2))
        for level in (5.0, 50.0, 95.0)
    ]
    assert errors[0] < errors[1] < errors[2]


def test_jpeg2000_lossless_is_exact_and_lossy_error_grows_with_ratio(ct_slice):
    assert np.array_equal(jpeg2000_roundtrip(ct_slice, compression_ratio=1.0), ct_slice)
    perturbation = perturbation_get("jpeg2000")
    errors = [
        np.sqrt(np.mean((perturbation.apply(ct_slice, severity=ratio, seed=0) - ct_slice) ** 2))
        for ratio in (5.0, 20.0, 80.0)
    ]
    assert 0 < errors[0] < errors[1] < errors[2]


def test_downsampling_removes_high_frequencies(ct_slice):
    coarse = perturbation_get("downsampling").apply(ct_slice, severity=4.0, seed=0)
    # A 4x coarser grid has its Nyquist frequency at 0.125 cycles per original pixel.
    assert _high_frequency_power(coarse, above_cycles_per_pixel=0.15) < 0.05 * (
        _high_frequency_power(ct_slice, above_cycles_per_pixel=0.15)
    )
    assert coarse[32:96, 32:96].mean() == pytest.approx(ct_slice[32:96, 32:96].mean(), abs=10)


def test_orientation_errors_are_exactly_invertible(ct_slice):
    flip = perturbation_get("left-right-flip")
    flipped = flip.apply(ct_slice, severity=1.0, seed=0)
    assert np.array_equal(flipped, ct_slice[:, ::-1])
    assert np.array_equal(flip.apply(flipped, severity=1.0, seed=0), ct_slice)
    rotation = perturbation_get("rotation")
    quarter = rotation.apply(ct_slice, severity=90.0, seed=0)
    assert np.array_equal(quarter, np.rot90(ct_slice))
    assert np.array_equal(rotation.apply(quarter, severity=270.0, seed=0), ct_slice)


def test_monochrome_inversion_maps_min_to_max(ct_slice):
    inversion = perturbation_get("monochrome-inversion")
    inverted = inversion.apply(ct_slice, severity=1.0, seed=0)
    assert inverted.flat[ct_slice.argmin()] == ct_slice.max()
    assert inverted.flat[ct_slice.argmax()] == ct_slice.min()
    assert inverted.min() == ct_slice.min() and inverted.max() == ct_slice.max()
    assert np.array_equal(inversion.apply(inverted, severity=1.0, seed=0), ct_slice)


def test_rescale_slope_error_stretches_values_linearly(ct_slice):
    rescaled = perturbation_get("intensity-rescale").apply(ct_slice, severity=25.0, seed=0)
    anchor = ct_slice.min()
    np.testing.assert_allclose(rescaled - anchor, 1.25 * (ct_slice - anchor), rtol=1e-5)


def test_cropping_cuts_the_border_and_keeps_the_centre(ct_slice):
    cropped = perturbation_get("cropping").apply(ct_slice, severity=50.0, seed=0)
    assert np.array_equal(cropped[32:96, 32:96], ct_slice[32:96, 32:96])
    border = np.ones_like(ct_slice, dtype=bool)
    border[32:96, 32:96] = False
    assert np.all(cropped[border] == ct_slice.min())


def test_burned_in_marker_changes_only_a_small_corner(ct_slice):
    marker = perturbation_get("burned-in-marker")
    small = marker.apply(ct_slice, severity=10.0, seed=0) != ct_slice
    large = marker.apply(ct_slice, severity=20.0, seed=0) != ct_slice
    assert 0 < small.sum() < large.sum() < 0.05 * ct_slice.size
    rows, cols = np.nonzero(large)
    assert rows.max() < SIZE // 2 and cols.max() < SIZE // 2
    marked = marker.apply(ct_slice, severity=20.0, seed=0)
    assert np.all(marked[large] == ct_slice.max())


# --- adversarial ----------------------------------------------------------------------


class _TinyClassifier(nn.Module):
    """A linear two-class classifier on an 8 x 8 image, intensities scaled by 1/100."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(64, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


def _cross_entropy_against(label: int):
    target = torch.tensor([label])
    return lambda logits: nn.functional.cross_entropy(logits, target)


def test_fgsm_and_pgd_raise_the_loss_within_the_epsilon_ball():
    network = _TinyClassifier()
    image = np.random.default_rng(0).uniform(0.0, 200.0, size=(8, 8)).astype(np.float32)
    before = image.copy()
    to_input = lambda intensity: intensity / 100.0  # noqa: E731
    with torch.no_grad():
        label = int(network(to_input(torch.from_numpy(image)[None, None])).argmax())
    loss = _cross_entropy_against(label)

    def loss_at(candidate: np.ndarray) -> float:
        with torch.no_grad():
            return float(loss(network(to_input(torch.from_numpy(candidate)[None, None]))))

    epsilon = 5.0
    fgsm = adversarial.fgsm(
        network=network, image=image, loss=loss, epsilon=epsilon, to_network_input=to_input
    )
    pgd = adversarial.pgd(
        network=network,
        image=image,
        loss=loss,
        epsilon=epsilon,
        steps=20,
        step_size=1.0,
        to_network_input=to_input,
    )
    assert np.array_equal(image, before)
    for attacked in (fgsm, pgd):
        assert attacked.shape == image.shape and attacked.dtype == np.float32
        assert np.abs(attacked - image).max() <= epsilon + 1e-4
    assert loss_at(fgsm) > loss_at(image)
    assert loss_at(pgd) >= loss_at(fgsm) - 1e-6
    # The value range (e.g. the stored HU range) is respected too.
    clipped = adversarial.pgd(
        network=network,
        image=image,
        loss=loss,
        epsilon=epsilon,
        to_network_input=to_input,
        value_range=(0.0, 200.0),
        random_start=True,
    )
    assert clipped.min() >= 0.0 and clipped.max() <= 200.0


def test_pgd_beats_fgsm_on_a_nonlinear_model():
    torch.manual_seed(1)
    network = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 2))
    image = np.random.default_rng(1).uniform(-1.0, 1.0, size=(8, 8)).astype(np.float32)
    with torch.no_grad():
        label = int(network(torch.from_numpy(image)[None, None]).argmax())
    loss = _cross_entropy_against(label)

    def loss_at(candidate: np.ndarray) -> float:
        with torch.no_grad():
            return float(loss(network(torch.from_numpy(candidate)[None, None])))

    epsilon = 0.3
    fgsm = adversarial.fgsm(network=network, image=image, loss=loss, epsilon=epsilon)
    pgd = adversarial.pgd(network=network, image=image, loss=loss, epsilon=epsilon, steps=40)
    assert np.abs(pgd - image).max() <= epsilon + 1e-6
    assert loss_at(pgd) >= loss_at(fgsm)
