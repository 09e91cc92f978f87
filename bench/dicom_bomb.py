"""Memory high-water mark of rendering a decompression bomb (issue 13, item 4).

The bomb is a real JPEG-LS instance of a black 8192 x 8192 x 16-bit image (a few KB;
128 MiB decoded). Each case runs in its own process, renders frame 1 as /rendered does
(studies.dicomweb.pixels.frame_render) and reports the growth of the process's peak RSS
(resource.getrusage) and the tracemalloc peak:

- bomb, default budget: refused before decoding (what the site does now);
- bomb, budget raised to 1 GiB per frame: what rendering it costs when let through
  (the behaviour the issue reported, 1.7 GB);
- the largest frame the default budget lets through rendered at 4096 x 4096 x 16 bit
  (32 MiB decoded), for scale: what a legitimate render may take at most here.

    .venv/bin/python bench/dicom_bomb.py
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import load_average, verdict  # noqa: E402

CASES = {
    "bomb-default-budget": (8192, None),
    "bomb-budget-1GiB": (8192, 1024**3),
    "legitimate-4096": (4096, None),
}


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def case_run(name: str, workdir: Path) -> None:
    side, frame_budget = CASES[name]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    from studies.dicomweb.pixels import RenderRequest, frame_render
    from studies.models import Instance
    from studies.pixel_budget import PixelBudgetExceeded

    path = workdir / f"{side}.dcm"
    if frame_budget:
        settings.DICOM_DECODED_FRAME_MAX_BYTES = frame_budget
    instance = Instance(transfer_syntax_uid="1.2.840.10008.1.2.4.80", number_of_frames=1)
    request = RenderRequest(media_type="image/png", window=None, viewport=None)
    before = _peak_kib()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        size = len(frame_render(instance=instance, path=path, frame_number=1, request=request))
        outcome = f"rendered, {size} bytes of PNG"
    except PixelBudgetExceeded as refusal:
        outcome = f"refused: {refusal}"
    seconds = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    growth = (_peak_kib() - before) / 1024
    print(
        f"{name:<22} file {path.stat().st_size:>6} B  {seconds:6.2f} s  "
        f"peak RSS growth {growth:8.1f} MiB  tracemalloc peak {traced_peak / 2**20:8.1f} MiB"
        f"  ({outcome[:90]})"
    )
    if frame_budget is None and side > 4096:
        print(
            verdict(
                "the bomb is refused before decoding under the default budget",
                outcome.startswith("refused"),
                f"{outcome[:40]}, peak RSS growth {growth:.1f} MiB; load average {load_average()}",
            )
        )


def files_prepare(workdir: Path) -> None:
    """The instances, encoded in a process of their own so no case's peak includes it."""
    import pydicom

    from tests.studies_tests import dicom_hostile

    for side in sorted({side for side, _ in CASES.values()}):
        bitstream = dicom_hostile.jpeg_ls_bomb_bitstream(rows=side, columns=side)
        path = workdir / f"{side}.dcm"
        path.write_bytes(dicom_hostile.jpeg_ls_bomb(bitstream))
        ds = pydicom.dcmread(path)
        ds.Rows = ds.Columns = side  # the helper declares 8192: match the bitstream
        ds.save_as(path, enforce_file_format=True)


def main() -> int:
    if len(sys.argv) == 3:
        if sys.argv[1] == "prepare":
            files_prepare(Path(sys.argv[2]))
        else:
            case_run(sys.argv[1], Path(sys.argv[2]))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="artefact-bomb-"))
    subprocess.run([sys.executable, __file__, "prepare", str(workdir)], check=True, cwd=ROOT)
    for name in CASES:
        subprocess.run([sys.executable, __file__, name, str(workdir)], check=True, cwd=ROOT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
