"""The browser viewer: our DICOMweb vs Orthanc's, same viewer, same study, same machine.

Builds a throw-away library with the 133-slice chest CT, indexes it, collects the static
files (the vite bundle must be built), starts gunicorn with the project settings and the
Debian Orthanc + DICOMweb plugin on free loopback ports, loads the same files into Orthanc,
then opens the viewer in headless Chromium (/usr/bin/chromium) several times against each
server. Only the viewer's DICOMweb root URL differs. It measures, from navigation start:

- first image drawn (the viewer's `data-first-image-ms`);
- all 133 slices in Cornerstone's cache (`data-all-cached-ms`);
and prints medians and the ours/Orthanc ratio (below 1 is better). Each run uses a fresh
browser context (cold HTTP cache). The page is the viewer include rendered here and served
at our origin; Orthanc has no CORS support, so Chromium runs with web security off for
both servers alike. These machines are noisy: only same-run ratios mean anything.

    .venv/bin/python bench/viewer.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    PASSWORD,
    children_stop,
    library_bench_env,
    library_bench_prepare,
    load_average,
    orthanc_load,
    ours_and_orthanc_start,
    verdict,
)

CHROMIUM = "/usr/bin/chromium"


def viewer_page_html(*, study_uid: str, dicomweb_root: str) -> str:
    from django.template.loader import render_to_string

    body = render_to_string(
        "viewer/viewer.html", {"study_uid": study_uid, "dicomweb_root": dicomweb_root}
    )
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>viewer bench</title>'
        '<link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="/static/dist/artefact.css"></head>'
        f"<body><main>{body}</main></body></html>"
    )


def viewer_timings(browser, *, base_url: str, html: str, log_in: bool) -> tuple[float, float]:
    """(first image ms, all slices cached ms) for one cold page load."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        if log_in:
            page.goto(f"{base_url}/accounts/login/")
            page.get_by_label("Username").fill("bench")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_load_state("networkidle")
        page.route(
            f"{base_url}/bench-viewer/",
            lambda route: route.fulfill(status=200, content_type="text/html", body=html),
        )
        page.goto(f"{base_url}/bench-viewer/")
        viewer = page.locator("[data-viewer]")
        viewer.locator("xpath=self::*[@data-cached='all' or @data-state='error']").wait_for()
        if viewer.get_attribute("data-state") == "error":
            raise RuntimeError(viewer.locator(".viewer-message").text_content())
        return (
            float(viewer.get_attribute("data-first-image-ms")),
            float(viewer.get_attribute("data-all-cached-ms")),
        )
    finally:
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    if not (ROOT / "static" / "dist" / "viewer.js").exists():
        print("Build the frontend first (scripts/bootstrap.sh or npm run build).")
        return 1
    work = Path(tempfile.mkdtemp(prefix="bench-viewer-"))
    env = library_bench_env(work)
    library = work / "media" / "library"
    children = []
    try:
        print("building the library, the index and the static files ...", flush=True)
        library_bench_prepare(env, collectstatic=True)
        base_url, orthanc_url = ours_and_orthanc_start(
            work=work, env=env, workers=args.workers, children=children
        )
        ct_files = sorted((library / "chest-ct").rglob("*.dcm"))
        print(f"loading {len(ct_files)} files into Orthanc ...", flush=True)
        orthanc_load(orthanc_url, ct_files)

        os.environ.update(env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django
        import pydicom

        django.setup()
        study_uid = pydicom.dcmread(ct_files[0], stop_before_pixels=True).StudyInstanceUID
        pages = {
            "ours": viewer_page_html(study_uid=study_uid, dicomweb_root=f"{base_url}/dicomweb"),
            "orthanc": viewer_page_html(
                study_uid=study_uid, dicomweb_root=f"{orthanc_url}/dicom-web"
            ),
        }
        results: dict[str, list[tuple[float, float]]] = {"ours": [], "orthanc": []}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-web-security", "--no-first-run"],
            )
            for run in range(args.runs + 1):
                for name in ("ours", "orthanc"):
                    timing = viewer_timings(
                        browser, base_url=base_url, html=pages[name], log_in=name == "ours"
                    )
                    if run:  # the first round warms both servers' caches and workers
                        results[name].append(timing)
            browser.close()

        medians = {
            name: (
                statistics.median(t[0] for t in timings),
                statistics.median(t[1] for t in timings),
            )
            for name, timings in results.items()
        }
        print(f"\nviewer, 133-slice chest CT, median of {args.runs} cold loads (ms)")
        print(f"{'':10} {'first image':>12} {'all cached':>12}")
        for name, (first, cached) in medians.items():
            print(f"{name:10} {first:12.0f} {cached:12.0f}")
        ratio_first = medians["ours"][0] / medians["orthanc"][0]
        ratio_cached = medians["ours"][1] / medians["orthanc"][1]
        print(f"{'ours/orth.':10} {ratio_first:12.2f} {ratio_cached:12.2f}")
        print(
            verdict(
                "ours at or ahead of Orthanc on both (ratios <= 1)",
                max(ratio_first, ratio_cached) <= 1.0,
                f"{ratio_first:.2f} / {ratio_cached:.2f}; load average {load_average()}",
            )
        )
        return 0
    finally:
        children_stop(children)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
