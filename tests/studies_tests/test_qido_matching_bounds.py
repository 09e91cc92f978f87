"""QIDO-RS matching cannot stall the site or read studies the caller may not see (issue 13,
item 3): wildcards (PS3.4 §C.2.2.2.4) become LIKE / GLOB patterns with every other
character literal, evaluated only on visible rows, under a complexity cap; malformed
limits and offsets are a 400, not a server error. Timings are in bench/qido_visibility.py."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from studies.models import Study

STUDIES = "/dicomweb/studies"
SECRET = "Secret course B"


@pytest.fixture
def resident_and_hidden_study(client, people, course_with_studies):
    """The resident sees every published library study but the chest CT, which belongs to
    another course only and carries a description the resident must not be able to read."""
    hidden = Study.objects.get(key="chest-ct")
    hidden.courses.clear()
    Study.objects.filter(pk=hidden.pk).update(study_description=SECRET)
    client.force_login(people["resident"])
    return client, hidden


def _descriptions(response) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(
        d["00081030"]["Value"][0] for d in json.loads(response.content) if "Value" in d["00081030"]
    )


def _wildcard_operator() -> str:
    """How the case-sensitive wildcard match is spelled in this database's SQL."""
    return "GLOB" if connection.vendor == "sqlite" else "LIKE"


def _search_sql(queries) -> str:
    found = [
        q["sql"]
        for q in queries
        if 'FROM "studies_study"' in q["sql"] and _wildcard_operator() in q["sql"]
    ]
    assert len(found) == 1, [q["sql"] for q in queries]
    return found[0]


def test_a_pattern_is_evaluated_only_on_studies_the_caller_may_see(resident_and_hidden_study):
    client, _ = resident_and_hidden_study
    with CaptureQueriesContext(connection) as queries:
        response = client.get(STUDIES, {"StudyDescription": "Secret*", "includefield": "00081030"})
    assert _descriptions(response) == []
    sql = _search_sql(queries.captured_queries)
    assert "REGEXP" not in " ".join(q["sql"] for q in queries.captured_queries)
    # The pattern sits in the THEN branch of a CASE whose WHEN is the visibility rule (the
    # resident's courses' study links), so SQL evaluates it only on rows that passed it.
    operator = _wildcard_operator()
    guarded = re.search(rf"CASE WHEN (.*?) THEN CASE WHEN (.*?{operator}.*?) THEN", sql)
    assert guarded is not None, sql
    visibility, pattern = guarded.groups()
    assert "studies_study_courses" in visibility and "is_quarantined" in visibility
    assert operator not in visibility and "study_description" in pattern
    assert sql.count(operator) == 1


def test_the_same_pattern_finds_the_study_for_someone_who_may_see_it(
    client, people, resident_and_hidden_study
):
    client.force_login(people["educator"])
    response = client.get(STUDIES, {"StudyDescription": "Secret*", "includefield": "00081030"})
    assert _descriptions(response) == [SECRET]


def test_the_stalling_pattern_is_a_glob_not_a_regex_and_is_answered(resident_and_hidden_study):
    client, _ = resident_and_hidden_study
    with CaptureQueriesContext(connection) as queries:
        response = client.get(STUDIES, {"StudyDescription": "*?*?*?*?*?*?*?*?*?"})
    assert response.status_code == 200
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "REGEXP" not in sql and _wildcard_operator() in sql
    # Nine '*' and nine '?': at least nine characters, which every visible description
    # of the library has; the hidden one is not among them.
    assert SECRET not in response.content.decode()


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("50% dose_a", ["50% dose_a"]),  # no wildcard: exact
        ("50%*", ["50% dose_a"]),  # '%' is literal, not LIKE's any-run
        ("*_a", ["50% dose_a"]),  # '_' is literal, not LIKE's any-one
        ("[x]*", ["[x] brackets"]),  # '[' is literal, not a GLOB class
        ("*dose?a", ["50% dose_a", "50x dose-a"]),
        ("50X*", []),  # text matching is case-sensitive (PS3.4 §C.2.2.2.4)
    ],
)
def test_wildcards_are_the_only_special_characters(
    client, people, study_library, pattern, expected
):
    library = list(Study.objects.order_by("pk")[:3])
    for study, description in zip(
        library, ["50% dose_a", "50x dose-a", "[x] brackets"], strict=True
    ):
        Study.objects.filter(pk=study.pk).update(study_description=description)
    client.force_login(people["educator"])
    response = client.get(STUDIES, {"StudyDescription": pattern, "includefield": "00081030"})
    assert _descriptions(response) == expected


def test_person_names_match_case_insensitively_with_literal_like_characters(
    client, people, study_library
):
    study = Study.objects.order_by("pk").first()
    Study.objects.filter(pk=study.pk).update(patient_name="O_Hara^100%")
    client.force_login(people["educator"])
    found = json.loads(client.get(STUDIES, {"PatientName": "o_hara^100%"}).content)
    assert [d["0020000D"]["Value"][0] for d in found] == [study.study_instance_uid]
    assert json.loads(client.get(STUDIES, {"PatientName": "oXhara^*"}).content) == []
    fuzzy = client.get(STUDIES, {"PatientName": "100", "fuzzymatching": "true"})
    assert [d["0020000D"]["Value"][0] for d in json.loads(fuzzy.content)] == [
        study.study_instance_uid
    ]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"StudyDescription": "*a" * 17}, "at most 16 '*'"),
        ({"PatientName": "x" * 325}, "at most 324 characters"),
        ({"StudyInstanceUID": ",".join(f"1.2.{n}" for n in range(101))}, "at most 100 values"),
        ({"offset": "99999999999999999999"}, "offset must be an integer"),
        ({"limit": "99999999999999999999"}, "limit must be an integer"),
        ({"offset": "\u0661"}, "offset must be an integer"),  # an Arabic-Indic digit
        ({"offset": "1e3"}, "offset must be an integer"),
        ({"limit": ""}, "limit must be an integer"),
    ],
)
def test_queries_past_the_caps_are_refused_clearly(client, people, study_library, params, words):
    client.force_login(people["educator"])
    response = client.get(STUDIES, params)
    assert response.status_code == 400, response.content
    assert words in response.content.decode()


@pytest.mark.parametrize("path", ["/dicomweb/series", "/dicomweb/instances"])
def test_other_levels_refuse_bad_integers_too(client, people, study_library, path):
    client.force_login(people["educator"])
    assert client.get(path, {"offset": "99999999999999999999"}).status_code == 400
    assert client.get(path, {"SeriesNumber": "99999999999999999999"}).status_code == 400


def test_many_stars_below_the_cap_are_answered(client, people, study_library):
    client.force_login(people["educator"])
    response = client.get(STUDIES, {"StudyDescription": "*" * 300 + "?" * 3})
    assert response.status_code == 200  # runs of '*' collapse to one
