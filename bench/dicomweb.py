"""DICOMweb: our server vs Orthanc, same studies, same machine, same dicomweb-client process.

Builds a throw-away library (the 133-slice chest CT + 200 one-instance CT studies made from
pydicom's CT_small with their own UIDs and names), indexes it, starts gunicorn with the
project settings and the Debian Orthanc + DICOMweb plugin on free loopback ports, loads the
same files into Orthanc, then measures with dicomweb-client:

- frames/s retrieving every frame of the CT series, sequentially and with 8 threads;
- QIDO-RS study search latency p50/p95 (all studies, and a PatientName wildcard search);
and prints ours/Orthanc ratios (for frames/s above 1 is better, for latency below 1 is).
These machines are noisy: only same-run ratios mean anything.

    .venv/bin/python bench/dicomweb.py [--queries 200] [--workers 8]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    PASSWORD,
    children_stop,
    library_bench_env,
    library_bench_prepare,
    manage,
    orthanc_load,
    ours_and_orthanc_start,
    percentile,
)


def synthetic_studies_write(*, out_dir: Path, count: int) -> list[Path]:
    """`count` one-instance CT studies from CT_small, each with its own UIDs and patient."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    paths = []
    for index in range(count):
        ds = template.copy()
        ds.file_meta = template.file_meta.copy()
        ds.PatientName = f"Bench^Patient{index:03d}"
        ds.PatientID = f"BENCH-{index:03d}"
        ds.AccessionNumber = f"BA{index:05d}"
        ds.StudyDate = f"2024{1 + index % 12:02d}{1 + index % 28:02d}"
        ds.StudyInstanceUID = generate_uid(entropy_srcs=["bench-study", str(index)])
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=["bench-series", str(index)])
        ds.SOPInstanceUID = generate_uid(entropy_srcs=["bench-sop", str(index)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        path = out_dir / str(ds.StudyInstanceUID) / str(ds.SeriesInstanceUID) / "1.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def frames_per_second(make_client, frames: list[tuple[str, str, str]], *, workers: int, **kw):
    """Every frame retrieved once; one dicomweb-client per thread (requests sessions are not
    shared across threads)."""
    clients = [make_client() for _ in range(workers)]

    def fetch(index_and_uids):
        index, uids = index_and_uids
        return len(
            clients[index % workers].retrieve_instance_frames(*uids, frame_numbers=[1], **kw)[0]
        )

    started = time.perf_counter()
    if workers == 1:
        total = sum(fetch(item) for item in enumerate(frames))
    else:
        with ThreadPoolExecutor(workers) as pool:
            total = sum(pool.map(fetch, enumerate(frames)))
    elapsed = time.perf_counter() - started
    assert total > 0
    return len(frames) / elapsed


def qido_latencies(client, *, queries: int, filters: dict) -> list[float]:
    times = []
    for _ in range(queries):
        started = time.perf_counter()
        client.search_for_studies(search_filters=filters)
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--studies", type=int, default=200)
    args = parser.parse_args()

    import requests
    from dicomweb_client.api import DICOMwebClient

    work = Path(tempfile.mkdtemp(prefix="bench-dicomweb-"))
    env = library_bench_env(work)
    library = work / "media" / "library"
    children = []
    try:
        print("building the library and the index ...", flush=True)
        library_bench_prepare(env)
        synthetic = synthetic_studies_write(out_dir=library / "uploads", count=args.studies)
        manage(env, "library_load", "--index-only")
        base_url, orthanc_url = ours_and_orthanc_start(
            work=work, env=env, workers=args.workers, children=children
        )
        ours_url = f"{base_url}/dicomweb"
        print("loading the same files into Orthanc ...", flush=True)
        ct_files = sorted((library / "chest-ct").rglob("*.dcm"))
        orthanc_load(orthanc_url, [*ct_files, *synthetic])

        def ours():
            session = requests.Session()
            session.auth = ("bench", PASSWORD)
            return DICOMwebClient(url=ours_url, session=session)

        def theirs():
            return DICOMwebClient(url=f"{orthanc_url}/dicom-web")

        probe = ours()
        studies = probe.search_for_studies(search_filters={"ModalitiesInStudy": "SEG"})
        study_uid = studies[0]["0020000D"]["Value"][0]
        series = probe.search_for_series(study_uid, search_filters={"Modality": "CT"})
        series_uid = series[0]["0020000E"]["Value"][0]
        instances = probe.search_for_instances(study_uid, series_uid, limit=1000)
        frames = [(study_uid, series_uid, i["00080018"]["Value"][0]) for i in instances]
        total_studies = len(probe.search_for_studies())
        assert total_studies == len(theirs().search_for_studies()), "libraries differ"
        print(f"{len(frames)} CT frames, {total_studies} studies in each server\n", flush=True)

        any_syntax = {"media_types": (("application/octet-stream", "*"),)}
        results = {}
        for name, make in (("ours", ours), ("orthanc", theirs)):
            frames_per_second(make, frames[:10], workers=1, **any_syntax)  # warm-up
            results[name] = {
                "frames/s sequential": frames_per_second(make, frames, workers=1, **any_syntax),
                f"frames/s {args.workers} threads": frames_per_second(
                    make, frames, workers=args.workers, **any_syntax
                ),
            }
            client = make()
            qido_latencies(client, queries=5, filters={})
            for label, filters in (
                ("QIDO all studies", {}),
                ("QIDO PatientName=Bench^Patient01*", {"PatientName": "Bench^Patient01*"}),
                ("QIDO PatientID", {"PatientID": "BENCH-150"}),
            ):
                if name == "orthanc" and "*" in str(filters):
                    # Orthanc 1.10 does not percent-decode "*" (dicomweb-client sends %2A)
                    # nor match "^"; ask it with the literal URL of the same search.
                    times = []
                    for _ in range(args.queries):
                        started = time.perf_counter()
                        requests.get(
                            f"{orthanc_url}/dicom-web/studies?PatientName=Bench?Patient01*",
                            timeout=30,
                        ).json()
                        times.append(time.perf_counter() - started)
                else:
                    times = qido_latencies(client, queries=args.queries, filters=filters)
                results[name][f"{label} p50 ms"] = statistics.median(times) * 1000
                results[name][f"{label} p95 ms"] = percentile(times, 0.95) * 1000
        print(f"{'measure':48} {'ours':>10} {'orthanc':>10} {'ours/orthanc':>13}")
        for key in results["ours"]:
            mine, peer = results["ours"][key], results["orthanc"][key]
            print(f"{key:48} {mine:10.1f} {peer:10.1f} {mine / peer:13.2f}")
        return 0
    finally:
        children_stop(children)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
