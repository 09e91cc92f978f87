"""Writes of the reader study: starting a participation, recording ratings, finishing."""

from __future__ import annotations

import numpy as np
from django.db import IntegrityError, transaction
from django.utils import timezone

from reader_study.cases import AIDED, UNAIDED, cohort_size_for, study_plan_build
from reader_study.measures import RATING_SCALE, study_measures
from reader_study.models import ReaderRating, ReaderSession, ReaderStudyExercise
from reader_study.selectors import session_next_position


class RatingRefused(ValueError):
    """The rating is not for the case due next, or not on the scale."""


def reader_session_start(*, user, exercise: ReaderStudyExercise, lesson) -> ReaderSession:
    """The user's participation in `exercise`, started now if they have none (a resident
    takes a study once: a second pass over the same cases would measure memory).

    Callers check the rule "reader_study.take" first.
    """
    existing = ReaderSession.objects.filter(exercise=exercise, user=user).first()
    if existing is not None:
        return existing
    plan = study_plan_build(
        cases_per_arm=exercise.cases_per_arm, wrong_share=exercise.wrong_share, seed=exercise.seed
    )
    try:
        with transaction.atomic():
            return ReaderSession.objects.create(
                exercise=exercise,
                user=user,
                lesson=lesson,
                plan=[dict(entry) for entry in plan],
                cohort_cases=cohort_size_for(exercise.cases_per_arm),
            )
    except IntegrityError:  # a double click started it in another request
        return ReaderSession.objects.get(exercise=exercise, user=user)


def reader_rating_record(*, session: ReaderSession, position: int, rating: int) -> ReaderSession:
    """Store the rating of the case due next; the last rating finishes the session.

    Ratings are final and come in order, so no unaided rating is given after an AI mark
    was seen. Callers have checked that the session is the user's own.
    """
    if rating not in dict(RATING_SCALE):
        raise RatingRefused("Choose one of the five ratings.")
    with transaction.atomic():
        session = ReaderSession.objects.select_for_update().get(pk=session.pk)
        if position != session_next_position(session=session):
            raise RatingRefused("That case has been rated already, or is not due yet.")
        ReaderRating.objects.create(session=session, position=position, rating=rating)
        if position == len(session.plan) - 1:
            session.results = session_measures_compute(session=session)
            session.finished_at = timezone.now()
            session.save(update_fields=["results", "finished_at"])
    return session


def session_measures_compute(*, session: ReaderSession) -> dict:
    """The reader's measures from their ratings (all cases must be rated)."""
    ratings = dict(session.ratings.values_list("position", "rating"))

    def arm(name: str):
        entries = [entry for entry in session.plan if entry["arm"] == name]
        return (
            np.array([ratings[entry["position"]] for entry in entries]),
            np.array([entry["positive"] for entry in entries]),
            entries,
        )

    unaided_ratings, unaided_positive, _ = arm(UNAIDED)
    aided_ratings, aided_positive, aided_entries = arm(AIDED)
    return study_measures(
        unaided_ratings=unaided_ratings,
        unaided_positive=unaided_positive,
        aided_ratings=aided_ratings,
        aided_positive=aided_positive,
        aided_ai_lesion=np.array([entry["ai_lesion"] for entry in aided_entries]),
    )
