"""An exam's answer key (the SEG series that scores its image questions) is unreachable for
residents through every path that can name a study, series or instance, from the moment it
is attached to an exam until an educator releases the key after the exam closes.

The paths are not a hand-written list: they are every URL pattern of the studies app
(DICOMweb, the viewer page, the study pages) found by walking the URL configuration, so a
route added later is checked without anyone remembering to add it here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.models import Role
from accounts.services import enrolment_create
from assessments.ground_truth import segment_labels
from assessments.services import (
    assessment_results_release,
    attempt_start,
    attempt_submit,
    question_ensure,
)
from grading.models import AuditAction, AuditEntry
from grading.services import AnswerKeyReleaseRefused, answer_key_release
from studies.blocks import ViewerBlock
from studies.services import study_courses_set
from tests.assessments_tests.builders import course_of, exam, quiz
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# URL keyword arguments that name a study, series or instance (or something inside one).
OBJECT_KWARGS = {"study", "series", "instance", "study_uid", "pk", "frames", "tag", "rest"}


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    kwargs: frozenset[str]


def _walk(resolver: URLResolver, namespace: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(n for n in (namespace, entry.namespace) if n)
            yield from _walk(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            module = getattr(entry.callback, "__module__", "")
            if module.startswith("studies."):
                pattern = entry.pattern
                names = set(getattr(pattern, "converters", {}) or {}) | set(
                    getattr(getattr(pattern, "regex", None), "groupindex", {}) or {}
                )
                yield Route(":".join(n for n in (namespace, entry.name) if n), frozenset(names))


def studies_routes() -> list[Route]:
    """Every named route served by the studies app (DICOMweb, viewer, study pages)."""
    return sorted(set(_walk(get_resolver())), key=lambda r: r.name)


def _urls(route: Route, *, study, key, key_instance) -> list[str]:
    """The route filled with the key (and its study and first instance); routes that take no
    series in the path are also asked for the key by query: QIDO matching on
    SeriesInstanceUID, the viewer page's ?series= / ?compare= / ?overlays=auto."""
    values = {
        "study": study.study_instance_uid,
        "study_uid": study.study_instance_uid,
        "series": key.series_instance_uid,
        "instance": key_instance.sop_instance_uid,
        "pk": study.pk,
        "frames": "1",
        "tag": "7FE00010",
        "rest": f"studies/{study.study_instance_uid}/series/{key.series_instance_uid}/x",
    }
    url = reverse(route.name, kwargs={k: values[k] for k in route.kwargs})
    if "series" in route.kwargs:
        return [url]
    uid = key.series_instance_uid
    if route.name.startswith("dicomweb:"):
        return [url, f"{url}?SeriesInstanceUID={uid}"]
    return [url, f"{url}?series={uid}&compare={uid}&overlays=auto"]


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _key_named(body: bytes, uids: list[str]) -> list[str]:
    return [uid for uid in uids if uid.encode() in body]


@pytest.fixture
def setting(chest_ct, demo_lesson, people):
    """The chest CT visible to the demo course; its SEG is the key of a 2-attempt exam."""
    study, ct, seg = chest_ct
    course = course_of(demo_lesson)
    study_courses_set(study=study, courses=[course])
    numbers = {name: number for number, name in segment_labels(seg.series_instance_uid)}
    question = question_ensure(
        title="Click the spleen",
        kind="image_point",
        prompt="<p>Click the spleen.</p>",
        data={
            "study_uid": study.study_instance_uid,
            "series_uid": ct.series_instance_uid,
            "seg_series_uid": seg.series_instance_uid,
            "segment_number": numbers["Spleen"],
        },
    )
    paper = exam(
        [question],
        course=course,
        max_attempts=2,
        closes_at=timezone.now() + dt.timedelta(days=1),
    )
    bystander = UserFactory(username="bea", role=Role.RESIDENT)
    enrolment_create(user=bystander, course=course)
    return {"study": study, "ct": ct, "seg": seg, "exam": paper, "bystander": bystander}


def _probe(client, user, routes, setting) -> dict[str, tuple[int, list[str]]]:
    """Per route: the status and which key UIDs the response names, as this user."""
    study, seg = setting["study"], setting["seg"]
    key_instance = seg.instances.order_by("pk").first()
    uids = [seg.series_instance_uid, *seg.instances.values_list("sop_instance_uid", flat=True)]
    client.force_login(user)
    seen = {}
    for route in routes:
        statuses, named = [], set()
        for url in _urls(route, study=study, key=seg, key_instance=key_instance):
            response = client.get(url)
            statuses.append(response.status_code)
            named |= set(_key_named(_body(response), uids))
        status = 200 if 200 in statuses else statuses[0]
        seen[route.name] = (status, sorted(named))
    return seen


def _assert_hidden(seen: dict, routes: list[Route], phase: str) -> None:
    leaks = {
        name: (status, named)
        for name, (status, named) in seen.items()
        if named or (status == 200 and "series" in next(r for r in routes if r.name == name).kwargs)
    }
    assert leaks == {}, f"{phase}: the key is reachable through {sorted(leaks)}"


def test_every_studies_route_hides_the_key_from_residents_until_its_release(
    client, setting, people
):
    routes = studies_routes()
    taking_objects = [r for r in routes if r.kwargs & OBJECT_KWARGS]
    # The walk found the DICOMweb resources (QIDO, WADO study/series/instance, metadata,
    # frames, rendered, thumbnails, bulk data), the viewer page and the study pages.
    assert {
        "dicomweb:series",
        "dicomweb:series_metadata",
        "dicomweb:instance_frames",
        "dicomweb:frames_rendered",
        "dicomweb:instance_thumbnail",
        "dicomweb:study_metadata",
        "viewer:page",
    } <= {r.name for r in taking_objects}
    print(f"\n{len(routes)} studies routes enumerated, {len(taking_objects)} take an object")

    # Control: staff reach the key through the same URLs, so a 404 below means hidden, not
    # a malformed URL.
    staff = _probe(client, people["educator"], routes, setting)
    assert staff["dicomweb:series_metadata"][0] == 200
    assert staff["dicomweb:instance"][0] == 200
    reached_by_staff = [n for n, (status, named) in staff.items() if named]
    assert {"dicomweb:series", "dicomweb:study_series", "viewer:page"} <= set(reached_by_staff)

    resident, bystander = people["resident"], setting["bystander"]
    paper = setting["exam"]
    _assert_hidden(_probe(client, resident, routes, setting), routes, "before any attempt")
    _assert_hidden(_probe(client, bystander, routes, setting), routes, "not sitting it")

    first = attempt_start(assessment=paper, user=resident)
    _assert_hidden(_probe(client, resident, routes, setting), routes, "during an attempt")
    _assert_hidden(_probe(client, bystander, routes, setting), routes, "while another sits it")

    attempt_submit(attempt=first)
    _assert_hidden(_probe(client, resident, routes, setting), routes, "between attempts")

    # Releasing marks is not releasing the key; nor is the exam closing.
    assessment_results_release(assessment=paper)
    paper.refresh_from_db()
    with pytest.raises(AnswerKeyReleaseRefused, match="has not closed"):
        answer_key_release(assessment=paper, by=people["educator"])
    type(paper).objects.filter(pk=paper.pk).update(closes_at=timezone.now())
    paper.refresh_from_db()
    _assert_hidden(_probe(client, resident, routes, setting), routes, "closed, not released")

    answer_key_release(assessment=paper, by=people["educator"])
    entry = AuditEntry.objects.get(action=AuditAction.KEY_RELEASE)
    assert entry.assessment_id == paper.pk and entry.actor == people["educator"]
    after = _probe(client, resident, routes, setting)
    assert after["dicomweb:series_metadata"][0] == 200
    assert setting["seg"].series_instance_uid in after["dicomweb:study_series"][1]


def test_a_quiz_key_is_not_an_exam_key(client, setting, people):
    """A practice quiz gives feedback at once: its segmentation is not withheld (unless an
    exam also uses it), and it has no key to release."""
    study, seg = setting["study"], setting["seg"]
    setting["exam"].delete()
    practice = quiz([], course=setting["exam"].course)
    client.force_login(people["resident"])
    url = f"/dicomweb/studies/{study.study_instance_uid}/series/{seg.series_instance_uid}/metadata"
    assert client.get(url).status_code == 200
    with pytest.raises(AnswerKeyReleaseRefused, match="quiz"):
        answer_key_release(assessment=practice, by=people["educator"])


def test_lessons_never_show_an_exam_key(rf, setting, people):
    """Authoring refuses an exam key as a lesson overlay, and a lesson written before the
    series became a key leaves it out for residents (the images still show)."""
    from wagtail import blocks as wagtail_blocks

    ct, seg = setting["ct"], setting["seg"]
    block = ViewerBlock()
    value = {"series": ct.series_instance_uid, "overlays": [seg.series_instance_uid]}
    with pytest.raises(wagtail_blocks.StructBlockValidationError):
        block.clean(block.to_python(value))
    request = rf.get("/")
    request.user = people["resident"]
    context = block.get_context(block.to_python(value), parent_context={"request": request})
    assert seg.series_instance_uid not in context["overlays"]
    assert context["series_uid"] == ct.series_instance_uid
    request.user = people["educator"]
    context = block.get_context(block.to_python(value), parent_context={"request": request})
    assert seg.series_instance_uid in context["overlays"]


def test_the_release_is_an_educators_explicit_step(client, setting, people):
    paper = setting["exam"]
    type(paper).objects.filter(pk=paper.pk).update(closes_at=timezone.now())
    url = reverse("grading:answer_key_release", args=[paper.pk])
    for who in ("resident", "examiner"):
        client.force_login(people[who])
        assert client.post(url).status_code == 403
    paper.refresh_from_db()
    assert paper.key_released_at is None
    client.force_login(people["educator"])
    assert client.post(url).status_code == 302
    paper.refresh_from_db()
    assert paper.key_released_at is not None
