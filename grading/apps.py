from django.apps import AppConfig


class GradingConfig(AppConfig):
    name = "grading"
    verbose_name = "Grading"
    # Snippets educators author in the Wagtail admin (accounts.authoring grants them).
    educator_authored_models = ("rubric", "rubricattachment", "markingscheme", "gradebookcategory")

    def ready(self):
        # Assessments and the curriculum sit below grading and find it through registries
        # (released examiner marks and overrides of automatic marks in results; the demo
        # set-up's grading step).
        from assessments.selectors import ExaminerMarks, examiner_marks_register
        from curriculum.demo import demo_step_register
        from grading import selectors
        from grading.demo import grading_demo_ensure

        examiner_marks_register(
            ExaminerMarks(
                released_points=selectors.released_points,
                auto_mark_overrides=selectors.auto_mark_overrides,
            )
        )
        demo_step_register(grading_demo_ensure)

        # Register this app's access rules (accounts.permissions) at start-up.
        from grading import rules  # noqa: F401
