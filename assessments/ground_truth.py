"""Ground-truth masks for image questions, read from DICOM SEG series of the study library.

A library SEG (studies/library/segmentation.py) is BINARY: one frame per (segment, source
slice), each frame naming its source image in DerivationImageSequence (PS3.3 C.8.20.3.1).
The mask of one segment is laid out over the image series in the order the index (and
hence the viewer) lists its instances: by InstanceNumber.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pydicom
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from assessments.scoring.base import GroundTruth
from studies.models import Instance, Series
from studies.selectors import instance_file_path, library_root

UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)


class GroundTruthMissing(LookupError):
    """The question's series or SEG is not in the study index (rebuilt, or never built)."""


def _series_instances(series_uid: str) -> list[Instance]:
    series = Series.objects.filter(series_instance_uid=series_uid).first()
    if series is None:
        raise GroundTruthMissing(f"Series {series_uid} is not in the study library.")
    return list(series.instances.order_by("instance_number", "sop_instance_uid"))


def _slice_geometry(paths) -> tuple[tuple[float, float], list[float]]:
    """Pixel spacing of the first image and each slice's position along the normal (mm)."""
    spacing = (1.0, 1.0)
    positions = []
    for index, path in enumerate(paths):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        if index == 0:
            spacing = tuple(float(v) for v in ds.get("PixelSpacing", (1.0, 1.0)))[:2]
        orientation = [float(v) for v in ds.get("ImageOrientationPatient", [1, 0, 0, 0, 1, 0])]
        normal = np.cross(orientation[:3], orientation[3:])
        position = [float(v) for v in ds.get("ImagePositionPatient", [0, 0, index])]
        positions.append(float(np.dot(normal, position)))
    return spacing, positions


def _seg_frame(ds, index: int, rows: int, columns: int) -> np.ndarray:
    """One frame of a BINARY SEG without decoding every other frame (a 790-frame SEG of
    512 x 512 would otherwise be 200 MB of bytes for one segment)."""
    if ds.file_meta.TransferSyntaxUID in UNCOMPRESSED and int(ds.BitsAllocated) == 1:
        bits = rows * columns
        start = index * bits
        data = np.frombuffer(ds.PixelData, dtype=np.uint8)
        # PS3.5 8.1.1: 1-bit pixels are packed little-endian within each byte.
        first_byte, offset = divmod(start, 8)
        chunk = data[first_byte : first_byte + (offset + bits + 7) // 8]
        unpacked = np.unpackbits(chunk, bitorder="little")[offset : offset + bits]
        return unpacked.reshape(rows, columns).astype(bool)
    frames = ds.pixel_array
    frames = frames.reshape(-1, rows, columns)
    return frames[index].astype(bool)


@lru_cache(maxsize=3)
def _mask_load_cached(series_uid: str, seg_series_uid: str, segment_number: int, stamp: tuple):
    instances = _series_instances(series_uid)
    if not instances:
        raise GroundTruthMissing(f"Series {series_uid} has no images.")
    seg_instances = _series_instances(seg_series_uid)
    if not seg_instances:
        raise GroundTruthMissing(f"Segmentation {seg_series_uid} has no instances.")
    paths = [instance_file_path(instance=i) for i in instances]
    spacing, positions = _slice_geometry(paths)
    sop_uids = tuple(i.sop_instance_uid for i in instances)
    slice_of = {uid: k for k, uid in enumerate(sop_uids)}
    rows, columns = int(instances[0].rows or 0), int(instances[0].columns or 0)
    mask = np.zeros((len(instances), rows, columns), dtype=bool)
    found_segment = False
    for seg_instance in seg_instances:
        ds = pydicom.dcmread(instance_file_path(instance=seg_instance))
        seg_rows, seg_columns = int(ds.Rows), int(ds.Columns)
        if (seg_rows, seg_columns) != (rows, columns):
            raise GroundTruthMissing("The segmentation's frames do not match the image size.")
        # A SEG with one segment may name it once, in the shared functional groups
        # (highdicom does), rather than in every frame (as labs.computation reads it too).
        shared = ds.get("SharedFunctionalGroupsSequence", [None])[0]
        for index, frame in enumerate(ds.PerFrameFunctionalGroupsSequence):
            identification = frame.get("SegmentIdentificationSequence") or (
                shared.get("SegmentIdentificationSequence") if shared is not None else None
            )
            if not identification:
                continue
            number = int(identification[0].ReferencedSegmentNumber)
            if number != segment_number:
                continue
            found_segment = True
            for derivation in frame.get("DerivationImageSequence", []):
                for source in derivation.get("SourceImageSequence", []):
                    k = slice_of.get(source.ReferencedSOPInstanceUID)
                    if k is not None:
                        mask[k] |= _seg_frame(ds, index, rows, columns)
    if not found_segment:
        raise GroundTruthMissing(f"Segment {segment_number} is not in {seg_series_uid}.")
    mask.setflags(write=False)
    return GroundTruth(
        mask=mask,
        sop_uids=sop_uids,
        pixel_spacing_mm=(float(spacing[0]), float(spacing[1])),
        slice_positions_mm=tuple(positions),
    )


def ground_truth_load(data: dict) -> GroundTruth:
    """The mask of the question's segment over its image series; cached per index state."""
    series_uid, seg_uid = data["series_uid"], data["seg_series_uid"]
    # The cache key includes the index rows' identity, so a rebuilt index reloads.
    stamp = (
        str(library_root()),
        *Instance.objects.filter(series__series_instance_uid__in=[series_uid, seg_uid])
        .order_by("pk")
        .values_list("pk", "file_size"),
    )
    return _mask_load_cached(series_uid, seg_uid, int(data["segment_number"]), stamp)


def segment_labels(seg_series_uid: str) -> list[tuple[int, str]]:
    """(segment number, label) of a SEG series, for authors choosing the truth."""
    instances = _series_instances(seg_series_uid)
    if not instances:
        return []
    ds = pydicom.dcmread(instance_file_path(instance=instances[0]), stop_before_pixels=True)
    return [(int(s.SegmentNumber), str(s.SegmentLabel)) for s in ds.SegmentSequence]


def segment_largest_slice(data: dict) -> int:
    """The 1-based slice of the question's series on which its segment is largest: where an
    image question opens, so the finding is in view. Raises GroundTruthMissing."""
    truth = ground_truth_load(data)
    areas = truth.mask.reshape(truth.mask.shape[0], -1).sum(axis=1)
    return int(areas.argmax()) + 1
