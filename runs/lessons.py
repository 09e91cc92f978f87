"""Which exercises a lesson embeds: the question every lab family's start rule asks."""

from __future__ import annotations


def lesson_exercise_ids(page, *, block_type: str) -> set[int]:
    """Primary keys of the exercises named by the lesson's `block_type` blocks.

    Read from the body's stored JSON: no block is converted and no exercise fetched. The
    start rule asks this on every lab request and for every lab block of a lesson page,
    where converting the body fetched every exercise, quiz and study the lesson names. A
    deleted exercise's key may remain in the JSON; it matches no row, so asking whether an
    existing exercise is embedded, or filtering exercises by these keys, is unaffected.
    """
    body = getattr(page.specific, "body", None)
    if not body:
        return set()
    ids = set()
    for raw in body.raw_data:
        value = raw.get("value")
        if raw.get("type") != block_type or not isinstance(value, dict):
            continue
        try:
            ids.add(int(value["exercise"]))
        except (KeyError, TypeError, ValueError):
            continue  # a block whose exercise was never chosen, or is no key
    return ids
