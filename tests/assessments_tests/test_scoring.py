"""Every scorer against cases worked out by hand (small numpy masks for the image kinds)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assessments.scoring.base import AnswerError, GroundTruth, QuestionDataError
from assessments.scoring.case_rating import roc_auc
from assessments.scoring.registry import SCORERS, scorer_for
from assessments.scoring.short_text import text_normalise

SERIES = "1.2.3.4"
IMAGE_DATA = {
    "study_uid": "1.2.3",
    "series_uid": SERIES,
    "seg_series_uid": "1.2.3.5",
    "segment_number": 1,
}


def form(**values):
    return {key: value if isinstance(value, list) else [value] for key, value in values.items()}


def marks(kind, points, sop="1.2.3.4.1"):
    return json.dumps(
        {
            "seriesInstanceUID": SERIES,
            "marks": [{"kind": kind, "slice": 1, "sopInstanceUID": sop, "image": points}],
        }
    )


def scored(kind, data, answer_form, max_points=1.0, truth=None):
    scorer = scorer_for(kind)
    data = scorer.validate_data(data)
    answer = scorer.answer_from_form(data, answer_form)
    return scorer.score(data, answer, max_points=max_points, truth=truth)


def test_every_kind_has_a_scorer():
    from assessments.models import QuestionKind

    assert set(SCORERS) == set(QuestionKind.values)


# --- Choice -----------------------------------------------------------------------------

CHOICES = {
    "options": [
        {"text": "Beam hardening", "correct": True},
        {"text": "Motion", "correct": False},
        {"text": "Photon starvation", "correct": True},
        {"text": "Aliasing", "correct": False},
    ]
}


def test_single_choice_scores_the_correct_option_only():
    data = {"options": [{"text": "A", "correct": False}, {"text": "B", "correct": True}]}
    assert scored("single_choice", data, form(choice="1"), max_points=2).points == 2
    assert scored("single_choice", data, form(choice="0"), max_points=2).points == 0


def test_single_choice_wrong_answer_feedback_names_the_key_as_the_key():
    """A wrong choice's feedback must not read like praise of the correct text it quotes."""
    data = {
        "options": [
            {"text": "It halves", "correct": False, "feedback": ""},
            {"text": "It doubles", "correct": True, "feedback": ""},
            {"text": "No change", "correct": False, "feedback": "Noise does depend on dose."},
        ]
    }
    plain = scored("single_choice", data, form(choice="0"), max_points=1).feedback
    assert plain == "Not quite. The correct answer is: It doubles."
    authored = scored("single_choice", data, form(choice="2"), max_points=1).feedback
    assert authored == "Noise does depend on dose. The correct answer is: It doubles."


def test_single_choice_refuses_two_choices_and_unknown_options():
    data = scorer_for("single_choice").validate_data(
        {"options": [{"text": "A", "correct": False}, {"text": "B", "correct": True}]}
    )
    with pytest.raises(AnswerError, match="Choose one"):
        scorer_for("single_choice").answer_from_form(data, form(choice=["0", "1"]))
    with pytest.raises(AnswerError, match="not one of"):
        scorer_for("single_choice").answer_from_form(data, form(choice="7"))


def test_single_choice_data_needs_exactly_one_correct_option():
    with pytest.raises(QuestionDataError, match="exactly one"):
        scorer_for("single_choice").validate_data(
            {"options": [{"text": "A", "correct": True}, {"text": "B", "correct": True}]}
        )


@pytest.mark.parametrize(
    ("chosen", "points"),
    [
        (["0", "2"], 4.0),  # both correct, nothing wrong: (2 - 0) / 2
        (["0"], 2.0),  # one of two: (1 - 0) / 2
        (["0", "1"], 0.0),  # one right cancelled by one wrong: (1 - 1) / 2
        (["0", "1", "2"], 2.0),  # (2 - 1) / 2
        (["0", "1", "2", "3"], 0.0),  # everything: (2 - 2) / 2
        (["1", "3"], 0.0),  # negative floors at 0
    ],
)
def test_multiple_choice_partial_credit_rule(chosen, points):
    assert scored("multiple_choice", CHOICES, form(choice=chosen), max_points=4).points == points


# --- Numeric ----------------------------------------------------------------------------


def test_numeric_within_tolerance_and_unit_conversion():
    data = {"answer": 42, "tolerance": 2, "unit": "mm"}
    assert scored("numeric", data, form(value="43.5", unit="mm")).points == 1
    assert scored("numeric", data, form(value="4,4", unit="cm")).points == 1  # 44 mm
    assert scored("numeric", data, form(value="4.5", unit="cm")).points == 0  # 45 mm
    assert scored("numeric", data, form(value="0.041", unit="m")).points == 1  # 41 mm
    result = scored("numeric", data, form(value="39", unit="mm"))
    assert result.points == 0 and "3 mm away" in result.feedback


def test_numeric_hounsfield_units_do_not_convert():
    data = {"answer": -1000, "tolerance": 50, "unit": "HU"}
    assert scored("numeric", data, form(value="-980")).points == 1
    assert scored("numeric", data, form(value="-900", unit="HU")).points == 0
    with pytest.raises(AnswerError, match="HU"):
        scored("numeric", data, form(value="-980", unit="mm"))


def test_numeric_refuses_what_is_not_a_number():
    with pytest.raises(AnswerError, match="not a number"):
        scored("numeric", {"answer": 1, "unit": "mm"}, form(value="about ten"))
    with pytest.raises(AnswerError, match="Enter a number"):
        scored("numeric", {"answer": 1, "unit": "mm"}, form(value=""))


# --- Text -------------------------------------------------------------------------------


def test_short_text_normalisation():
    assert text_normalise("  Pneumo-Thorax!! ") == "pneumo thorax"
    assert text_normalise("Hämatom") == "hamatom"
    data = {"accepted": ["pneumothorax", "PTX"]}
    assert scored("short_text", data, form(text="Pneumothorax.")).points == 1
    assert scored("short_text", data, form(text="ptx")).points == 1
    assert scored("short_text", data, form(text="effusion")).points == 0


@pytest.mark.parametrize("kind", ["essay", "lab_report"])
def test_examiner_marked_kinds_give_no_automatic_points(kind):
    data = {"min_runs": 0} if kind == "lab_report" else {}
    result = scored(kind, data, form(text="The model fails because ..."))
    assert result.points is None and "examiner" in result.feedback
    with pytest.raises(AnswerError):
        scored(kind, data, form(text="   "))


def test_lab_report_requires_the_authored_number_of_runs():
    with pytest.raises(AnswerError, match="at least 2"):
        scored("lab_report", {"min_runs": 2}, form(text="report", lab_runs=["5"]))
    scorer = scorer_for("lab_report")
    data = scorer.validate_data({"min_runs": 1})
    answer = scorer.answer_from_form(data, form(text="report", lab_runs=["5", "5", "7"]))
    assert answer == {"text": "report", "lab_run_ids": [5, 7]}


# --- Image kinds: a 3-slice, 10 x 10 mask with 2 mm x 1 mm pixels, 5 mm between slices ----


def small_truth() -> GroundTruth:
    mask = np.zeros((3, 10, 10), dtype=bool)
    mask[1, 2:6, 3:7] = True  # slice 2: rows 2-5, columns 3-6 (16 pixels)
    mask[2, 4:5, 4:6] = True  # slice 3: 2 pixels
    return GroundTruth(
        mask=mask,
        sop_uids=("1.2.3.4.0", "1.2.3.4.1", "1.2.3.4.2"),
        pixel_spacing_mm=(2.0, 1.0),  # 2 mm between rows, 1 mm between columns
        slice_positions_mm=(0.0, 5.0, 10.0),
    )


def test_image_point_inside_the_mask_scores_full():
    truth = small_truth()
    data = {**IMAGE_DATA, "tolerance_mm": 3}
    assert (
        scored("image_point", data, form(marks=marks("point", [[3.2, 2.9]])), truth=truth).points
        == 1
    )


def test_image_point_distance_uses_pixel_spacing():
    truth = small_truth()
    # Column 8.5, row 3.5: nearest mask pixel centre is column 6.5 (same row) -> 2 px x 1 mm = 2 mm.
    near = form(marks=marks("point", [[8.5, 3.5]]))
    assert scored("image_point", {**IMAGE_DATA, "tolerance_mm": 2.5}, near, truth=truth).points == 1
    assert scored("image_point", {**IMAGE_DATA, "tolerance_mm": 1.5}, near, truth=truth).points == 0
    # Row 7.5, column 4.5: nearest centre is row 5.5 -> 2 rows x 2 mm = 4 mm (not 2 mm).
    below = form(marks=marks("point", [[4.5, 7.5]]))
    result = scored("image_point", {**IMAGE_DATA, "tolerance_mm": 3.9}, below, truth=truth)
    assert result.points == 0 and "4.0 mm" in result.feedback
    half = scored(
        "image_point",
        {**IMAGE_DATA, "tolerance_mm": 4.0, "near_credit": 0.5},
        below,
        truth=truth,
        max_points=2,
    )
    assert half.points == 1.0


def test_image_point_distance_across_slices():
    truth = small_truth()
    # Slice 1 (position 0 mm) right above the slice-2 mask: 5 mm through the slices.
    answer = form(marks=marks("point", [[4.5, 3.5]], sop="1.2.3.4.0"))
    result = scored("image_point", {**IMAGE_DATA, "tolerance_mm": 4.9}, answer, truth=truth)
    assert result.points == 0 and "5.0 mm" in result.feedback


def test_image_point_refuses_marks_on_another_series_or_missing():
    other = json.dumps({"seriesInstanceUID": "9.9", "marks": []})
    with pytest.raises(AnswerError, match="another series"):
        scored("image_point", IMAGE_DATA, form(marks=other), truth=small_truth())
    with pytest.raises(AnswerError, match="Place a point"):
        scored("image_point", IMAGE_DATA, form(marks=marks("box", [[1, 1], [2, 2]])))
    with pytest.raises(AnswerError, match="could not be read"):
        scored("image_point", IMAGE_DATA, form(marks="{not json"))


def test_image_box_dice_and_partial_credit():
    truth = small_truth()
    # Exactly the 4 x 4 mask: corners (3, 2) and (7, 6) -> Dice 1.
    exact = form(marks=marks("box", [[3, 2], [7, 6]]))
    assert scored("image_box", IMAGE_DATA, exact, truth=truth).points == 1
    # Columns 3-6, rows 2-3 only: 8 of 16 pixels, Dice = 2*8/(8+16) = 0.667.
    # Credit = (0.667 - 0.3) / (0.7 - 0.3) = 0.9167.
    half = form(marks=marks("box", [[3, 2], [7, 4]]))
    result = scored("image_box", IMAGE_DATA, half, truth=truth)
    assert result.points == pytest.approx((2 * 8 / 24 - 0.3) / 0.4, abs=1e-3)
    assert "Dice 0.67" in result.feedback
    # IoU of the same box = 8 / 16 = 0.5, full credit from 0.5.
    iou = {**IMAGE_DATA, "metric": "iou", "full_credit_at": 0.5, "no_credit_below": 0.1}
    assert scored("image_box", iou, half, truth=truth).points == 1
    # A box beside the mask: no overlap, no credit.
    beside = form(marks=marks("box", [[0, 7], [2, 9]]))
    assert scored("image_box", IMAGE_DATA, beside, truth=truth).points == 0


def test_image_box_thresholds_are_checked():
    with pytest.raises(QuestionDataError):
        scorer_for("image_box").validate_data(
            {**IMAGE_DATA, "full_credit_at": 0.2, "no_credit_below": 0.5}
        )


def test_image_outline_rasterises_by_pixel_centres():
    truth = small_truth()
    # A diamond centred on the square's centre (5, 4) with radius 2.5 pixels: a pixel centre
    # is inside when |x - 5| + |y - 4| < 2.5. Centres are 0.5 or 1.5 from the middle, so
    # the 12 with sums 1 and 2 are in, the 4 corners (sum 3) out; none lies on an edge.
    # Drawn 12, truth 16, overlap 12: Dice = 24 / 28 = 0.857, IoU = 12 / 16 = 0.75.
    diamond = [[5, 1.5], [7.5, 4], [5, 6.5], [2.5, 4]]
    result = scored("image_outline", IMAGE_DATA, form(marks=marks("outline", diamond)), truth=truth)
    assert "Dice 0.86" in result.feedback and "IoU 0.75" in result.feedback
    iou = {**IMAGE_DATA, "metric": "iou", "full_credit_at": 0.9, "no_credit_below": 0.5}
    outlined = scored("image_outline", iou, form(marks=marks("outline", diamond)), truth=truth)
    assert outlined.points == pytest.approx((0.75 - 0.5) / 0.4)
    square = [[3, 2], [7, 2], [7, 6], [3, 6]]
    assert (
        scored(
            "image_outline", IMAGE_DATA, form(marks=marks("outline", square)), truth=truth
        ).points
        == 1
    )
    with pytest.raises(AnswerError, match="three points"):
        scored("image_outline", IMAGE_DATA, form(marks=marks("outline", [[1, 1], [2, 2]])))


def test_image_slice_target_is_the_largest_area_with_tolerance():
    truth = small_truth()
    on_target = form(marks=marks("point", [[0.5, 0.5]], sop="1.2.3.4.1"))
    one_off = form(marks=marks("point", [[0.5, 0.5]], sop="1.2.3.4.2"))
    assert scored("image_slice", IMAGE_DATA, on_target, truth=truth).points == 1
    assert scored("image_slice", IMAGE_DATA, one_off, truth=truth).points == 0
    lenient = {**IMAGE_DATA, "tolerance_slices": 1}
    assert scored("image_slice", lenient, one_off, truth=truth).points == 1
    explicit = {**IMAGE_DATA, "target_slice": 3}
    assert scored("image_slice", explicit, one_off, truth=truth).points == 1


# --- Case rating ------------------------------------------------------------------------


def test_roc_auc_by_hand():
    # Positives rated 5, 3; negatives 1, 3: pairs (5>1, 5>3, 3>1, 3=3) = 3.5 / 4.
    assert roc_auc([5, 3, 1, 3], [True, True, False, False]) == 0.875
    assert roc_auc([1, 2], [True, False]) == 0.0


def test_case_rating_credit_is_auc_above_chance():
    data = {
        "scale": "likert",
        "cases": [
            {"label": "A", "positive": True},
            {"label": "B", "positive": True},
            {"label": "C", "positive": False},
            {"label": "D", "positive": False},
        ],
    }
    answers = form(rating_0="5", rating_1="3", rating_2="1", rating_3="3")
    result = scored("case_rating", data, answers, max_points=4)
    assert result.points == pytest.approx(4 * (0.875 - 0.5) / 0.5)
    assert "AUC 0.88" in result.feedback
    with pytest.raises(AnswerError, match="from 1 to 5"):
        scored("case_rating", data, form(rating_0="9", rating_1="3", rating_2="1", rating_3="3"))
    with pytest.raises(AnswerError, match="'D' has no rating"):
        scored("case_rating", data, form(rating_0="5", rating_1="3", rating_2="1"))
    with pytest.raises(QuestionDataError, match="one positive and one negative"):
        scorer_for("case_rating").validate_data(
            {"cases": [{"label": "A", "positive": True}, {"label": "B", "positive": True}]}
        )
