"""Question kind -> scorer. The only place that lists the kinds' modules."""

from __future__ import annotations

from assessments.scoring import (
    case_rating,
    essay,
    image_box,
    image_outline,
    image_point,
    image_slice,
    lab_report,
    multiple_choice,
    numeric,
    short_text,
    single_choice,
)
from assessments.scoring.base import Scorer

SCORERS: dict[str, Scorer] = {
    scorer.kind: scorer
    for scorer in (
        single_choice.SingleChoiceScorer(),
        multiple_choice.MultipleChoiceScorer(),
        numeric.NumericScorer(),
        short_text.ShortTextScorer(),
        essay.EssayScorer(),
        image_point.ImagePointScorer(),
        image_box.ImageBoxScorer(),
        image_outline.ImageOutlineScorer(),
        image_slice.ImageSliceScorer(),
        case_rating.CaseRatingScorer(),
        lab_report.LabReportScorer(),
    )
}


def scorer_for(kind: str) -> Scorer:
    try:
        return SCORERS[kind]
    except KeyError:
        raise LookupError(f"No scorer for question kind {kind!r}.") from None
