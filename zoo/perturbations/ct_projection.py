"""Parallel-beam CT geometry shared by the sinogram-domain perturbations.

Not a perturbation: the forward projector (radon transform), filtered back-projection and
the HU <-> linear attenuation conversion that the low-dose, metal and beam-hardening
perturbations use. Rays are sums over pixels (unit step), so a line integral in this
module is `sum(mu_per_mm) * pixel_spacing_mm`, dimensionless, exactly what the detector's
log-normalised reading ln(I0 / I) measures.

Geometry: the scan covers the circle inscribed in the image (the scanner's reconstruction
circle); anatomy in the corners outside it is neither projected nor changed. Views are
spread evenly over 180 degrees, enough for the 128-512 matrices of the study library.
"""

from __future__ import annotations

import copy

import numpy as np

# Linear attenuation coefficient of water at ~70 keV, the effective energy of a 120 kVp
# beam (NIST XCOM: mu/rho = 0.193 cm^2/g at 70 keV, rho = 1 g/cm^3).
MU_WATER_PER_MM = 0.0193
# The 12-bit stored range most scanners reconstruct into (PS3.3 C.8.2.1: CT Image).
HU_STORED_MIN = -1024.0
HU_STORED_MAX = 3071.0
DEFAULT_VIEW_COUNT = 180
# The size of a pixel sets the path lengths, and with them attenuation and photon noise.
# Callers that know it (a lab reads Pixel Spacing, a cohort knows its patches' spacing) get
# a perturbation measured on it with `at_pixel_spacing`; only an image that arrives with no
# geometry at all is taken to span a routine adult body field of view (0.7 mm pixels on a
# 512 matrix, 2.8 mm on 128).
BODY_FIELD_OF_VIEW_MM = 360.0


class ProjectionGeometry:
    """Mixin of the sinogram-domain perturbations: the pixel size their physics uses.

    `pixel_spacing_mm` None means "unknown": the body field of view above stands in.
    """

    pixel_spacing_mm: float | None = None

    def at_pixel_spacing(self, spacing_mm: float | None):
        """A copy of this perturbation that measures lengths on `spacing_mm` pixels."""
        if spacing_mm is None or not spacing_mm > 0:
            return self
        changed = copy.copy(self)
        changed.pixel_spacing_mm = float(spacing_mm)
        return changed

    def spacing_for(self, shape: tuple[int, ...]) -> float:
        if self.pixel_spacing_mm is not None:
            return self.pixel_spacing_mm
        return pixel_spacing_mm(shape, field_of_view_mm=BODY_FIELD_OF_VIEW_MM)


def hu_to_mu(image_hu: np.ndarray) -> np.ndarray:
    """Linear attenuation (1/mm) from HU = 1000 (mu - mu_water) / mu_water; air is 0."""
    return np.clip(MU_WATER_PER_MM * (1.0 + image_hu / 1000.0), 0.0, None)


def mu_to_hu(mu_per_mm: np.ndarray) -> np.ndarray:
    """The inverse of `hu_to_mu` for a change of attenuation: HU per (1/mm)."""
    return 1000.0 * mu_per_mm / MU_WATER_PER_MM


def pixel_spacing_mm(shape: tuple[int, ...], *, field_of_view_mm: float) -> float:
    """Pixel size when the larger in-plane dimension spans `field_of_view_mm`."""
    return field_of_view_mm / max(shape[-2:])


def view_angles_deg(view_count: int = DEFAULT_VIEW_COUNT) -> np.ndarray:
    return np.arange(view_count) * (180.0 / view_count)


def reconstruction_circle(shape: tuple[int, int]) -> np.ndarray:
    """True inside the circle inscribed in the image: what every view sees."""
    rows, cols = shape
    y, x = np.ogrid[:rows, :cols]
    radius = min(rows, cols) / 2.0
    return (y - (rows - 1) / 2.0) ** 2 + (x - (cols - 1) / 2.0) ** 2 <= (radius - 1) ** 2


def _detector_positions(
    shape: tuple[int, int], *, angle_rad: float, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Detector coordinate (in bins, 0 at the first bin) of pixel centres for one view.

    Bins are one pixel wide and the central ray passes through the image centre:
    t = x cos(theta) - y sin(theta), with x, y measured from the centre.
    """
    bin_count = max(shape)
    x = cols - (shape[1] - 1) / 2.0
    y = rows - (shape[0] - 1) / 2.0
    return x * np.cos(angle_rad) - y * np.sin(angle_rad) + (bin_count - 1) / 2.0


def radon(image: np.ndarray, *, angles_deg: np.ndarray) -> np.ndarray:
    """Sinogram (views, detector bins) of ray sums of `image` through its inscribed circle.

    Pixel-driven: each non-zero pixel inside the circle spreads its value over the detector
    bins under its footprint, approximated by a triangle of half-width |cos| + |sin| (the
    width of a unit square's shadow at that angle) integrating to the pixel's value. The
    plain two-bin linear splat would leave a moire of +-10 % at 45 degrees. Zero pixels
    (air, in attenuation) cost nothing, so sparse images (bone, metal) project quickly.
    """
    rows, cols = np.nonzero(reconstruction_circle(image.shape) & (image != 0))
    values = image[rows, cols].astype(np.float64)
    bin_count = max(image.shape)
    sinogram = np.empty((len(angles_deg), bin_count))
    for view, angle in enumerate(np.deg2rad(angles_deg)):
        position = _detector_positions(image.shape, angle_rad=angle, rows=rows, cols=cols)
        half_width = abs(np.cos(angle)) + abs(np.sin(angle))
        lower = np.floor(position).astype(np.intp)
        # Bins lower-1 .. lower+2 cover the footprint; index shifted by one to keep >= 0.
        deposited = np.zeros(bin_count + 4)
        for offset in (-1, 0, 1, 2):
            weight = np.clip(1.0 - np.abs(lower + offset - position) / half_width, 0.0, None)
            deposited += np.bincount(
                lower + offset + 1, values * weight / half_width, minlength=bin_count + 4
            )[: bin_count + 4]
        sinogram[view] = deposited[1 : bin_count + 1]
    return sinogram


def _ramp_filter(bin_count: int) -> np.ndarray:
    """Ram-Lak filter built from its band-limited spatial kernel (Kak & Slaney, ch. 3).

    Building it in space rather than sampling |f| keeps the DC term right, so a uniform
    object does not come back with a cupped or domed offset.
    """
    size = max(64, int(2 ** np.ceil(np.log2(2 * bin_count))))
    offsets = np.concatenate([np.arange(1, size // 2 + 1, 2), np.arange(size // 2 - 1, 0, -2)])
    kernel = np.zeros(size)
    kernel[0] = 0.25
    kernel[1::2] = -1.0 / (np.pi * offsets) ** 2
    return 2.0 * np.real(np.fft.fft(kernel))


def filtered_back_projection(
    sinogram: np.ndarray, *, angles_deg: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Image whose `radon` is `sinogram`, by ramp filtering and back-projection (FBP).

    Each pixel inside the reconstruction circle sums, over the views, the filtered
    projection linearly interpolated at its detector position (Kak & Slaney, ch. 3);
    outside the circle the result is 0.
    """
    bin_count = sinogram.shape[1]
    ramp = _ramp_filter(bin_count)
    padded = np.zeros((sinogram.shape[0], ramp.size))
    padded[:, :bin_count] = sinogram
    filtered = np.real(np.fft.ifft(np.fft.fft(padded, axis=1) * ramp, axis=1))[:, :bin_count]
    rows, cols = np.nonzero(reconstruction_circle(shape))
    bins = np.arange(bin_count)
    summed = np.zeros(rows.size)
    for view, angle in zip(filtered, np.deg2rad(angles_deg), strict=True):
        position = _detector_positions(shape, angle_rad=angle, rows=rows, cols=cols)
        summed += np.interp(position, bins, view, left=0.0, right=0.0)
    image = np.zeros(shape)
    image[rows, cols] = summed * np.pi / (2.0 * len(angles_deg))
    return image
