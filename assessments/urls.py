from django.urls import path

from assessments import views

app_name = "assessments"
urlpatterns = [
    path("", views.assessment_list, name="list"),
    path("<int:assessment_pk>/", views.assessment_detail, name="detail"),
    path("<int:assessment_pk>/start/", views.attempt_start, name="start"),
    path("<int:assessment_pk>/statistics/", views.assessment_statistics, name="statistics"),
    path(
        "<int:assessment_pk>/statistics/distribution.svg",
        views.score_distribution,
        name="distribution",
    ),
    path("attempts/<int:attempt_pk>/", views.attempt_page, name="attempt"),
    path(
        "attempts/<int:attempt_pk>/answers/<int:position>/",
        views.response_save,
        name="answer",
    ),
    path("attempts/<int:attempt_pk>/review/", views.attempt_review, name="review"),
    path("attempts/<int:attempt_pk>/submit/", views.attempt_submit, name="submit"),
    path("attempts/<int:attempt_pk>/result/", views.attempt_result, name="result"),
    path("answers/<int:response_pk>/mark.png", views.answer_mark, name="answer_mark"),
    path("bank/qti/export.zip", views.question_bank_export, name="bank_export"),
    path("bank/qti/import/", views.question_bank_import, name="bank_import"),
]
