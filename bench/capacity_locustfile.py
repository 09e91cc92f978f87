"""The simulated resident of bench/capacity.py, for locust (run by that script, not alone).

Each simulated resident signs in as its own enrolled account (a session made by the bench)
and goes round the course as a person would, with think times between the steps:

1. a lesson page that has a break-it lab (chosen at random from the shipped course);
2. the viewer page of the lab's study, then what the viewer asks DICOMweb for first: the
   series metadata and a few frames (a real viewer goes on to fetch the whole stack);
3. the lab: the lesson's lab form posted as shown (a random slice, so no two runs are the
   same computation), the run's page, then its status polled as the page's htmx does, at
   the delay each fragment asks for, until the run has succeeded or failed, and the run's
   page again (the last fragment reloads it, with the result);
4. the module's quiz: start an attempt, answer each question as the autosave does, submit,
   read the result.

Every request is recorded with its start time, its name and whether it failed; when
locust stops, the records are written to $CAPACITY_SAMPLES as JSON for the bench to
summarise (locust's own percentiles round and merge names). The lab's submit-to-result
time (the post to the result page loaded) is recorded as one more request, "lab: submit
to result".

The plan (server, residents' session keys, lessons, study, quizzes) comes from the JSON file
named by $CAPACITY_PLAN, written by bench/capacity.py.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import re
import time
from pathlib import Path

from locust import HttpUser, events, task

FRAMES_PER_VIEWER = 8
LAB_TIMEOUT_SECONDS = 300
FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'

_records: list[list] = []
_resident_numbers = itertools.count()


def plan() -> dict:
    return json.loads(Path(os.environ["CAPACITY_PLAN"]).read_text())


@events.request.add_listener
def _request_record(request_type, name, response_time, exception, **_kw):
    # response_time is in milliseconds; the start is when the request began.
    _records.append(
        [time.time() - response_time / 1000, name, response_time, exception is not None]
    )


@events.quitting.add_listener
def _records_write(**_kw):
    target = os.environ.get("CAPACITY_SAMPLES")
    if target:
        Path(target).write_text(json.dumps(_records))


class LabForm:
    """The lab form of a lesson page, as a browser would submit it."""

    FORM = re.compile(
        r'<form method="post" action="(/labs/exercises/(\d+)/runs/)"(.*?)</form>', re.S
    )
    INPUT = re.compile(r"<input\b([^>]*)>", re.S)
    ATTRIBUTE = re.compile(r'(\w[\w-]*)="([^"]*)"')

    def __init__(self, action: str, fields: dict[str, str], slice_range: tuple[int, int] | None):
        self.action, self.fields, self.slice_range = action, fields, slice_range

    @classmethod
    def in_page(cls, page: str, *, exercise: int) -> LabForm | None:
        """The form of lab `exercise` on the page (a lesson may hold several labs)."""
        found = next((f for f in cls.FORM.finditer(page) if int(f[2]) == exercise), None)
        if found is None:
            return None
        fields, slice_range = {}, None
        for tag in cls.INPUT.findall(found[3]):
            attributes = dict(cls.ATTRIBUTE.findall(tag))
            if "name" not in attributes:
                continue
            fields[attributes["name"]] = attributes.get("value", "")
            if attributes["name"] == "slice_number" and "min" in attributes:
                slice_range = (int(attributes["min"]), int(attributes["max"]))
        return cls(found[1], fields, slice_range)

    def data(self) -> dict[str, str]:
        data = dict(self.fields)
        if self.slice_range:
            data["slice_number"] = str(random.randint(*self.slice_range))
        return data


ANSWER_FORM = re.compile(
    r'<form method="post" action="(/assess/attempts/\d+/answers/\d+/)"(.*?)</form>', re.S
)
CHOICE = re.compile(r'name="choice" value="(\d+)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def answer_data(form_html: str) -> dict[str, str]:
    """An answer of the right shape for one question's form (right or wrong at random)."""
    choices = CHOICE.findall(form_html)
    if choices:
        return {"choice": random.choice(choices)}
    if 'name="value"' in form_html:
        return {"value": str(random.choice([0, 5, 40])), "unit": "HU"}
    return {"text": "Noise moves fat and soft tissue towards each other."}


class Resident(HttpUser):
    """One resident going lesson -> viewer -> lab -> quiz, again and again."""

    def wait_time(self) -> float:
        low, high = self.plan["think_seconds"]
        return random.uniform(low, high)

    def on_start(self) -> None:
        self.plan = plan()
        number = next(_resident_numbers)
        self.cookies = {"sessionid": self.plan["sessions"][number % len(self.plan["sessions"])]}
        self.origin = self.plan["origin"]

    # -- HTTP as a browser behind the TLS proxy sends it -------------------------------
    def _headers(self, extra: dict | None = None) -> dict:
        headers = {
            # What the TLS-terminating proxy tells production (config.settings).
            "X-Forwarded-Proto": "https",
            "Cookie": "; ".join(f"{key}={value}" for key, value in self.cookies.items()),
            "Referer": self.origin + "/",
        }
        headers.update(extra or {})
        return headers

    def call(self, method: str, path: str, name: str, *, expect=(200,), headers=None, **kw):
        with self.client.request(
            method,
            path,
            name=name,
            headers=self._headers(headers),
            allow_redirects=False,
            catch_response=True,
            **kw,
        ) as response:
            # The cookies are Secure (production): kept here, sent by hand over loopback HTTP.
            self.cookies.update(response.cookies.get_dict())
            if response.status_code not in expect:
                response.failure(f"{method} {path} answered {response.status_code}")
                raise _StepFailed
            response.success()
            return response

    @staticmethod
    def _failure(name: str, message: str) -> None:
        events.request.fire(
            request_type="CHECK",
            name=name,
            response_time=0,
            response_length=0,
            exception=RuntimeError(message),
            context={},
        )
        raise _StepFailed

    @staticmethod
    def _csrf(page: str) -> str:
        return CSRF.search(page)[1]

    # -- one round of the course ----------------------------------------------------------
    @task
    def course_round(self) -> None:
        # A failed request is recorded as such; the resident then starts the next round.
        with contextlib.suppress(_StepFailed):
            self._round()

    def _round(self) -> None:
        lesson, exercise = random.choice(self.plan["lessons"])
        page = self.call("GET", lesson, "page: lesson").text
        form = LabForm.in_page(page, exercise=exercise)
        token = self._csrf(page)
        self.wait()

        study, series = self.plan["study_uid"], self.plan["series_uid"]
        self.call("GET", f"/viewer/{study}/?series={series}", "page: viewer")
        metadata = self.call(
            "GET",
            f"/dicomweb/studies/{study}/series/{series}/metadata",
            "dicomweb: series metadata",
            headers={"Accept": "application/dicom+json"},
        ).json()
        instances = [item["00080018"]["Value"][0] for item in metadata]
        for instance in random.sample(instances, min(FRAMES_PER_VIEWER, len(instances))):
            self.call(
                "GET",
                f"/dicomweb/studies/{study}/series/{series}/instances/{instance}/frames/1",
                "dicomweb: frame",
                headers={"Accept": FRAME_ACCEPT},
            )
        self.wait()

        if form is None:
            self._failure("page: lesson", f"no form for lab {exercise} on {lesson}")
        self._lab(form, token=token, lesson=lesson)
        self.wait()

        self._quiz(random.choice(self.plan["quizzes"]))
        self.wait()

    def _lab(self, form: LabForm, *, token: str, lesson: str) -> None:
        started = time.perf_counter()
        submitted = self.call(
            "POST",
            form.action,
            "lab: submit",
            expect=(302, 303),
            data={**form.data(), "csrfmiddlewaretoken": token},
            headers={"Referer": self.origin + lesson},
        )
        run_url = submitted.headers["Location"]
        if not re.fullmatch(r"/labs/runs/\d+/", run_url):
            # Refused (the form's answer is the lesson again, with the reason as a message).
            self._failure("lab: submit to result", f"the run was refused (sent to {run_url})")
        self.call("GET", run_url, "page: lab run")
        status_url = run_url + "status/"
        outcome = None
        while outcome is None:
            fragment = self.call(
                "GET", status_url, "lab: status poll", headers={"HX-Request": "true"}
            ).text
            if 'data-status="succeeded"' in fragment:
                outcome = ""
            elif 'data-status="failed"' in fragment or 'data-status="cancelled"' in fragment:
                outcome = "the run did not succeed"
            elif time.perf_counter() - started > LAB_TIMEOUT_SECONDS:
                outcome = f"no result after {LAB_TIMEOUT_SECONDS} s"
            else:
                delay = re.search(r'hx-trigger="load delay:(\d+)ms"', fragment)
                time.sleep(int(delay[1]) / 1000 if delay else 0.5)  # gevent-patched by locust
        if not outcome:
            # The last fragment asks htmx to reload the page (HX-Refresh): the result the
            # resident reads is on the reloaded page.
            self.call("GET", run_url, "page: lab result")
        events.request.fire(
            request_type="LAB",
            name="lab: submit to result",
            response_time=1000 * (time.perf_counter() - started),
            response_length=0,
            exception=RuntimeError(outcome) if outcome else None,
            context={},
        )

    def _quiz(self, quiz: int) -> None:
        detail = self.call("GET", f"/assess/{quiz}/", "page: quiz").text
        started = self.call(
            "POST",
            f"/assess/{quiz}/start/",
            "page: quiz start",
            expect=(302,),
            data={"csrfmiddlewaretoken": self._csrf(detail)},
            headers={"Referer": f"{self.origin}/assess/{quiz}/"},
        )
        attempt_url = started.headers["Location"]
        attempt = self.call("GET", attempt_url, "page: quiz attempt").text
        token = self._csrf(attempt)
        for action, form_html in ANSWER_FORM.findall(attempt):
            self.call(
                "POST",
                action,
                "page: quiz answer (autosave)",
                data={**answer_data(form_html), "csrfmiddlewaretoken": token},
                headers={"HX-Request": "true", "Referer": self.origin + attempt_url},
            )
        attempt_id = re.search(r"/attempts/(\d+)/", attempt_url)[1]
        submitted = self.call(
            "POST",
            f"/assess/attempts/{attempt_id}/submit/",
            "page: quiz submit",
            expect=(302,),
            data={"csrfmiddlewaretoken": token},
            headers={"Referer": self.origin + attempt_url},
        )
        self.call("GET", submitted.headers["Location"], "page: quiz result")


class _StepFailed(Exception):
    """A request answered unexpectedly: the round ends there (the failure is recorded)."""
