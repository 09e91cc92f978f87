"""Labels for a resident's own cohort: from a CSV file (checked whole) or study by study."""

import pytest
from django.urls import reverse

from model_builder import services
from model_builder.models import StudyLabel
from model_builder.own_studies import LabelFileRefused
from studies.models import Study, StudyOrigin

pytestmark = pytest.mark.django_db


@pytest.fixture
def studies(demo_lesson):
    course = demo_lesson.get_parent().get_parent()
    made = []
    for index in range(3):
        study = Study.objects.create(
            study_instance_uid=f"1.2.826.0.1.3680043.10.999.{index + 1}",
            key=f"own-{index}",
            title=f"Uploaded chest CT {index}",
            origin=StudyOrigin.STOW,
        )
        study.courses.add(course)
        made.append(study)
    hidden = Study.objects.create(
        study_instance_uid="1.2.826.0.1.3680043.10.999.77", origin=StudyOrigin.STOW
    )
    return {"visible": made, "hidden": hidden}


@pytest.fixture
def cohort(people):
    return services.labelled_cohort_create(user=people["resident"], title="My PE studies")


def test_a_valid_file_labels_studies_by_uid_or_key(cohort, people, studies):
    first, second, third = studies["visible"]
    content = (
        "study,label\n"
        f"{first.study_instance_uid},positive\n"
        f"{second.key},0\n"
        f"{third.study_instance_uid},YES\n"
    ).encode()
    stored, problems = services.cohort_labels_import_csv(
        cohort=cohort, user=people["resident"], content=content
    )
    assert (stored, problems) == (3, [])
    labels = dict(StudyLabel.objects.filter(cohort=cohort).values_list("study_id", "label"))
    assert labels == {first.pk: 1, second.pk: 0, third.pk: 1}


def test_every_bad_row_is_listed_and_nothing_is_stored(cohort, people, studies):
    first, second, _ = studies["visible"]
    content = (
        "StudyInstanceUID,label\n"
        f"{first.study_instance_uid},1\n"
        "1.2.3.4.5.404,1\n"  # unknown
        f"{studies['hidden'].study_instance_uid},0\n"  # exists, but not visible to her
        f"{second.study_instance_uid},maybe\n"  # bad label
        f"{first.study_instance_uid},0\n"  # duplicate
        ",1\n"  # empty study
    ).encode()
    stored, problems = services.cohort_labels_import_csv(
        cohort=cohort, user=people["resident"], content=content
    )
    assert stored == 0 and not StudyLabel.objects.exists()
    by_line = {problem.line: problem.problem for problem in problems}
    assert sorted(by_line) == [3, 4, 5, 6, 7]
    assert "No study you can see" in by_line[3]
    # A study she may not see reads exactly like one that does not exist.
    assert by_line[4] == by_line[3]
    assert "'maybe' is not one of" in by_line[5]
    assert "labelled already on line 2" in by_line[6]
    assert "empty" in by_line[7]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"uid;diagnosis\n1.2.3;1\n", "first row must name the columns"),
        ("study,label\n1.2,1\n".encode("utf-16"), "not UTF-8"),
    ],
)
def test_unusable_files_are_refused_whole(cohort, people, content, message):
    with pytest.raises(LabelFileRefused, match=message):
        services.cohort_labels_import_csv(cohort=cohort, user=people["resident"], content=content)


def test_oversize_file_is_refused(cohort, people, settings):
    settings.MODEL_BUILDER_LABEL_CSV_MAX_BYTES = 2048
    content = b"study,label\n" + b"1.2.3.4,1\n" * 400
    with pytest.raises(LabelFileRefused, match="is 3 KB; the limit is 2 KB"):
        services.cohort_labels_import_csv(cohort=cohort, user=people["resident"], content=content)


def test_upload_page_shows_each_offending_row(client, cohort, people, studies):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(people["resident"])
    upload = SimpleUploadedFile(
        "labels.csv", b"study,label\n1.2.3.4.5.404,1\nown-0,<b>bold</b>\n", content_type="text/csv"
    )
    response = client.post(
        reverse("model_builder:cohort_labels_upload", args=[cohort.pk]), {"labels_file": upload}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was stored: 2 rows of the file need fixing." in page
    assert "1.2.3.4.5.404" in page and "No study you can see" in page
    # What the resident wrote is shown escaped, never as markup.
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page


def test_a_200_kb_field_is_a_form_error_not_a_server_error(client, cohort, people, studies):
    """The csv module refuses fields over 128 KiB; the page says so and stores nothing."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(people["resident"])
    content = b"study,label\n" + b'"' + b"x" * 200_000 + b'",1\n'
    upload = SimpleUploadedFile("labels.csv", content, content_type="text/csv")
    response = client.post(
        reverse("model_builder:cohort_labels_upload", args=[cohort.pk]), {"labels_file": upload}
    )
    assert response.status_code == 400
    assert "cannot be read as CSV at line 2: a field is far too long" in response.content.decode()
    assert not StudyLabel.objects.exists()


def test_labels_set_study_by_study(client, cohort, people, studies):
    first, second, _ = studies["visible"]
    client.force_login(people["resident"])
    url = reverse("model_builder:cohort_labels_set", args=[cohort.pk])
    response = client.post(url, {f"label-{first.pk}": "1", f"label-{second.pk}": "0"})
    assert response.status_code == 302
    assert StudyLabel.objects.filter(cohort=cohort).count() == 2
    client.post(url, {f"label-{first.pk}": ""})
    assert list(StudyLabel.objects.filter(cohort=cohort).values_list("study_id", flat=True)) == [
        second.pk
    ]
    # A study she cannot see cannot be labelled.
    response = client.post(url, {f"label-{studies['hidden'].pk}": "1"})
    assert response.status_code == 404


def test_a_cohort_needs_two_patients_per_class_to_train(cohort, people, studies):
    first, second, _ = studies["visible"]
    services.cohort_label_set(cohort=cohort, user=people["resident"], study=first, label=1)
    services.cohort_label_set(cohort=cohort, user=people["resident"], study=second, label=0)
    with pytest.raises(services.TrainingRefused, match="at least two patients with positive"):
        services.training_config_validate(
            user=people["resident"], raw={"cohort": f"cohort-{cohort.pk}"}
        )
    # Another resident's cohort cannot be chosen.
    with pytest.raises(services.TrainingRefused, match="Choose the lesion cohort"):
        services.training_config_validate(
            user=people["outsider"], raw={"cohort": f"cohort-{cohort.pk}"}
        )
