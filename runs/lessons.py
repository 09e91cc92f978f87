"""Which exercises a lesson embeds: the question every lab family's start rule asks."""

from __future__ import annotations


def lesson_chosen_ids(page, *, field: str = "exercise") -> list[tuple[str, int]]:
    """(block type, primary key) of every block of the lesson whose value names an object
    under `field` ("exercise" for the lab families, "assessment" for quizzes), in page order.

    Read from the body's stored JSON: no block is converted and no object fetched. A deleted
    object's key may remain in the JSON; it matches no row, so asking whether an existing
    object is embedded, or filtering objects by these keys, is unaffected; a caller that
    needs the objects fetches them and drops the keys that found none.
    """
    body = getattr(page.specific, "body", None)
    if not body:
        return []
    chosen = []
    for raw in body.raw_data:
        value = raw.get("value")
        if not isinstance(value, dict):
            continue
        try:
            chosen.append((raw.get("type"), int(value[field])))
        except (KeyError, TypeError, ValueError):
            continue  # a block that names nothing under `field`, or no key
    return chosen


def lesson_exercise_ids(page, *, block_type: str) -> set[int]:
    """Primary keys of the exercises named by the lesson's `block_type` blocks (see
    lesson_chosen_ids). The start rule asks this on every lab request and for every lab
    block of a lesson page, where converting the body fetched every exercise, quiz and
    study the lesson names."""
    return {pk for kind, pk in lesson_chosen_ids(page) if kind == block_type}
