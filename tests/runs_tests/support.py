"""How the contract test makes a QUEUED run of each family: through the family's own create
service, as a resident's submission would. A new run model needs one line here; the
contract test fails until it has it."""

from __future__ import annotations


def lab_run_make(people):
    from labs import services
    from tests.labs_tests.lab_support import exercise_make

    return services.lab_run_create(
        user=people["resident"], exercise=exercise_make(), severity=60, slice_number=1
    )


def cohort_run_make(people):
    from evaluation import services
    from tests.evaluation_tests.support import cohort_exercise_make

    return services.cohort_run_create(
        user=people["resident"], exercise=cohort_exercise_make(severities="0, 300")
    )


def training_run_make(people):
    from model_builder import services
    from tests.model_builder_tests.support import TINY

    return services.training_run_create(user=people["resident"], title="Contract", raw_config=TINY)


RUN_MAKERS = {
    "labs.LabRun": lab_run_make,
    "evaluation.CohortRun": cohort_run_make,
    "model_builder.TrainingRun": training_run_make,
}
