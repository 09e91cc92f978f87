"""What the API sends and accepts. Read-only representations of the project's own rows;
nothing here writes (starting a run goes through labs.services like the page does)."""

from __future__ import annotations

from rest_framework import serializers


class PageUrlField(serializers.CharField):
    """The page's address on this site (None for a page outside every site)."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)

    def to_representation(self, page):
        return page.url


class LessonSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    slug = serializers.CharField()
    url = PageUrlField()


class ModuleSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    slug = serializers.CharField()
    lessons = LessonSummarySerializer(many=True)


class CourseSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    slug = serializers.CharField()
    may_open = serializers.BooleanField()


class CourseDetailSerializer(CourseSummarySerializer):
    modules = ModuleSerializer(many=True)


class ModuleProgressSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="module.pk")
    title = serializers.CharField(source="module.title")
    lessons_total = serializers.IntegerField()
    lessons_completed = serializers.IntegerField()
    percent = serializers.IntegerField()
    is_open = serializers.BooleanField()
    completed_lesson_ids = serializers.SerializerMethodField()

    def get_completed_lesson_ids(self, progress) -> list[int]:
        return [lesson.pk for lesson in progress.lessons if lesson.pk in progress.completed_ids]


class CourseProgressSerializer(serializers.Serializer):
    course_id = serializers.IntegerField(source="course.pk")
    lessons_total = serializers.IntegerField()
    lessons_completed = serializers.IntegerField()
    percent = serializers.IntegerField()
    next_lesson_id = serializers.IntegerField(source="next_lesson.pk", allow_null=True)
    modules = ModuleProgressSerializer(many=True)


class PerturbationOfferSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField(source="perturbation.title")
    unit = serializers.CharField(source="perturbation.severity_unit")
    severity_min = serializers.FloatField(source="low")
    severity_max = serializers.FloatField(source="high")
    severity_default = serializers.FloatField(source="default")


class LabExerciseSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    kind = serializers.CharField()
    model_key = serializers.CharField()
    study_key = serializers.CharField()
    explainer_keys = serializers.ListField(child=serializers.CharField())
    perturbations = PerturbationOfferSerializer(many=True, source="offers")


class LessonDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    slug = serializers.CharField()
    url = PageUrlField()
    lab_exercises = LabExerciseSerializer(many=True)


RUN_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"]


class RunStateSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    status = serializers.ChoiceField(choices=RUN_STATUSES)
    progress_percent = serializers.IntegerField()
    progress_message = serializers.CharField()
    error_message = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class LabRunSerializer(RunStateSerializer):
    exercise_id = serializers.IntegerField()
    lesson_id = serializers.IntegerField(allow_null=True)
    parameters = serializers.DictField()
    metrics = serializers.DictField(child=serializers.FloatField())
    summary = serializers.DictField()
    detail_page = serializers.CharField()


class LabRunStartSerializer(serializers.Serializer):
    """The lab form's fields, as text or numbers: labs.services checks every value against
    the exercise's offers and answers with a message a person can act on."""

    exercise_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    lesson_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    perturbation_key = serializers.CharField(required=False, max_length=64, allow_blank=True)
    severity = serializers.FloatField(required=False, allow_null=True)
    slice_number = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=100_000
    )
    model_key = serializers.CharField(required=False, max_length=64, allow_blank=True)
    explainer_keys = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, allow_null=True, max_length=8
    )


class CohortRunSerializer(RunStateSerializer):
    exercise_id = serializers.IntegerField()
    kind = serializers.CharField()
    model_key = serializers.CharField()
    cohort_key = serializers.CharField()
    perturbation_key = serializers.CharField()
    case_count = serializers.IntegerField()
    conditions = serializers.ListField(child=serializers.DictField())
    summary = serializers.DictField()


class AssessmentGradeSerializer(serializers.Serializer):
    assessment_id = serializers.IntegerField(source="assessment.pk")
    assessment = serializers.CharField(source="assessment.title")
    percent = serializers.FloatField(allow_null=True)
    overridden = serializers.BooleanField()


class CategoryGradeSerializer(serializers.Serializer):
    category = serializers.CharField(source="category.name")
    weight = serializers.FloatField(source="category.weight")
    percent = serializers.FloatField(allow_null=True)
    grades = AssessmentGradeSerializer(many=True)


class ResidentGradesSerializer(serializers.Serializer):
    username = serializers.CharField(source="resident.username")
    name = serializers.CharField(source="resident.get_full_name")
    percent = serializers.FloatField(allow_null=True)
    is_final = serializers.BooleanField()
    categories = CategoryGradeSerializer(many=True)


class QuestionSerializer(serializers.Serializer):
    """A bank question with its key (`data`): only authors may export the bank."""

    id = serializers.IntegerField(source="pk")
    title = serializers.CharField()
    kind = serializers.CharField()
    prompt = serializers.CharField()
    module = serializers.CharField(source="module.title", allow_null=True, default=None)
    outcome = serializers.CharField()
    difficulty = serializers.CharField()
    max_points = serializers.FloatField()
    pool = serializers.CharField()
    data = serializers.DictField()
    explanation = serializers.CharField()


class TokenCreatedSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
