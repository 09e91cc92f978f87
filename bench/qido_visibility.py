"""QIDO-RS matching and visibility: a resident's wildcard query that matches only studies
of another course must take the time of one that matches nothing (issue 13, item 3).

A throw-away SQLite platform holds `--hidden` studies of another course whose
StudyDescription starts "Secret" and `--visible` studies of the resident's course. The
resident asks StudyDescription=Secret*?*?*?... (every match invisible) and
Nobody*?*?*?... (nothing matches), alternating, through the real view; the ratio of the
medians is printed and should be ~1.00. For scale: the same pattern for an educator over
every study, and the old matcher (a regular expression over every study) on a short
pattern.

    .venv/bin/python bench/qido_visibility.py [--hidden 20000] [--visible 200] [--repeat 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    latency_summary,
    load_average,
    manage,
    verdict,
    worker_bench_env,
)

# Goal (issue 13, item 3): the two medians within this fraction of each other.
RATIO_TOLERANCE = 0.1

STARS = "*?" * 9


def _timed(client, params: dict, *, repeat: int) -> list[float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get("/dicomweb/studies", params)
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=20000)
    parser.add_argument("--visible", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="artefact-bench-"))
    env = worker_bench_env(workdir, redis_port=1)  # no broker is used here
    manage(env, "migrate", "--noinput", "-v", "0", stdout=subprocess.DEVNULL)
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.conf import settings
    from django.test import Client

    from accounts.models import Role, User
    from accounts.services import enrolment_create
    from curriculum.services import demo_course_ensure
    from studies.models import Study, StudyOrigin

    settings.ALLOWED_HOSTS = ["testserver"]
    course = demo_course_ensure().get_parent().get_parent()
    resident = User.objects.create_user(username="bench-resident", role=Role.RESIDENT)
    educator = User.objects.create_user(username="bench-educator", role=Role.EDUCATOR)
    enrolment_create(user=resident, course=course)
    filler = "x" * 50
    Study.objects.bulk_create(
        [
            Study(
                study_instance_uid=f"1.2.826.0.1.{n + 1}",
                study_description=f"Secret {n:06d} {filler}",
                origin=StudyOrigin.STOW,
            )
            for n in range(args.hidden)
        ],
        batch_size=2000,
    )
    visible = Study.objects.bulk_create(
        [
            Study(
                study_instance_uid=f"1.2.826.0.2.{n + 1}",
                study_description=f"Head CT {n}",
                origin=StudyOrigin.STOW,
            )
            for n in range(args.visible)
        ]
    )
    Study.courses.through.objects.bulk_create(
        [Study.courses.through(study_id=s.pk, page_id=course.pk) for s in visible]
    )

    client = Client()
    client.force_login(resident)
    hidden_only = {"StudyDescription": f"Secret{STARS}"}
    nothing = {"StudyDescription": f"Nobody{STARS}"}
    for params in (hidden_only, nothing):  # warm caches and check the answers
        assert client.get("/dicomweb/studies", params).json() == []
    hidden_times, nothing_times = [], []
    for turn in range(args.repeat):  # alternate which goes first, so order cancels out
        if turn % 2:
            nothing_times += _timed(client, nothing, repeat=1)
        hidden_times += _timed(client, hidden_only, repeat=1)
        if not turn % 2:
            nothing_times += _timed(client, nothing, repeat=1)
    print(f"{args.hidden} studies of another course, {args.visible} of the resident's course")
    print(latency_summary("resident: matches only hidden", hidden_times))
    print(latency_summary("resident: matches nothing", nothing_times))
    ratio = statistics.median(hidden_times) / statistics.median(nothing_times)
    print(f"ratio hidden-only / nothing (medians): {ratio:.2f}")
    print(
        verdict(
            "a query matching only hidden studies takes the time of one matching nothing "
            f"(ratio within 1 +- {RATIO_TOLERANCE:g})",
            abs(ratio - 1) <= RATIO_TOLERANCE,
            f"{ratio:.2f}; load average {load_average()}",
        )
    )

    client.force_login(educator)
    every = _timed(client, hidden_only, repeat=max(3, args.repeat // 3))
    print(latency_summary(f"educator: {STARS} over all", every))

    # The old matcher, for scale: a regular expression run over every study.
    short = "Secret" + ".*." * 4
    started = time.perf_counter()
    Study.objects.filter(study_description__regex=f"^{short}$").count()
    print(f"old regex matcher (4 '*?' pairs) over all: {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
