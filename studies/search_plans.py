"""Search plans: the SQL of a search built once per shape, run with each request's values.

Django builds and compiles a query anew on every call. For the QIDO-RS exact searches a PACS
or viewer sends over and over (PatientID=..., AccessionNumber=...), that build cost more
than PostgreSQL or SQLite spent answering (issue 18, item 4: 0.5 ms of ~1.2 ms in-process),
and it guards every search with the caller's visibility rule, so it cannot be skipped.

A plan is the compiled SQL of one shape: the same visibility filter but for whose it is,
the same keywords matched exactly, the same page. It is compiled from stand-in values
(a stand-in user primary key, stand-in strings), and the positions where each stand-in
appears among the parameters become slots that a request fills with its own values.

What makes this safe, checked rather than assumed:
- The caller's filter must be the stand-in's filter with only the user's pk changed
  (`_filter_key`, over a closed set of leaf types; anything else is not planned). A rule
  that branches on the user's data (a role, a list read from the database) gives another
  filter and so another shape, or no plan at all.
- Every stand-in must appear verbatim among the compiled parameters, and none may appear
  anywhere else (inside the SQL text or inside another parameter), so no value was
  transformed on the way in (a LIKE pattern, an upper-cased copy); such a shape is not
  planned.
- Slots take only non-empty strings and integers: values whose SQL never depends on the
  value itself (None becomes IS NULL; a list changes the number of placeholders).
A shape that cannot be planned is remembered as such; its searches take the ORM's way.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.functional import LazyObject

from accounts.query_plans import STAND_IN_USER_PK, ModelPlan, PlanCache, model_plan_compile

# Strings no real study or request carries (the user's stand-in is STAND_IN_USER_PK). A
# stand-in string holds what common transformations change (LIKE's "%" and "_", the escape
# "\\", both letter cases, an inner space), so a transformed value is not found verbatim;
# and a run of digits they keep, so a transformed copy beside the verbatim one is still
# found (either refuses the plan).
_STAND_IN_DIGITS = "8{:02d}61537249"
_STAND_IN_TEXT = "Artefact%Plan_Slot\\ " + _STAND_IN_DIGITS
PLANS_KEPT = 512  # shapes per process: keywords x page sizes x visibility shapes

_plans = PlanCache(PLANS_KEPT)
# The user's pk's slot: no keyword of a search is named so.
_USER_SLOT = "(user pk)"


def planned_search(
    *,
    shape: tuple,
    user,
    visibility: Callable[[Any], Q],
    values: Mapping[str, str],
    build: Callable[[Q, Mapping[str, str]], QuerySet],
) -> list | None:
    """The rows `build(visibility(user), values)` would return, run from a plan of this
    `shape` (whatever besides the filter and the values' names decides the query: the
    level, the page); None where it cannot be planned (then build the query as usual).

    `build` must be a pure function of its arguments: the filter and the values it gets
    are the stand-ins when a plan is compiled."""
    if not user.is_authenticated or not isinstance(user.pk, int) or user.pk < 0:
        return None
    if not all(isinstance(value, str) and value for value in values.values()):
        return None
    stand_in = copy.copy(user)  # the user model itself: `is_authenticated` unwrapped a lazy one
    if isinstance(stand_in, LazyObject):
        return None
    stand_in.pk = STAND_IN_USER_PK
    stand_in_filter = visibility(stand_in)
    # The caller's filter must be the stand-in's but for whose pk it holds.
    filter_key = _filter_key(stand_in_filter, STAND_IN_USER_PK)
    if filter_key is None or _filter_key(visibility(user), user.pk) != filter_key:
        return None
    key = (shape, filter_key, tuple(sorted(values)))
    plan = _plans.get(key, lambda: _plan_compile(stand_in_filter, sorted(values), build))
    if plan is None:
        return None
    return plan.objects({**values, _USER_SLOT: user.pk})


def plans_forget() -> None:
    """Drop every plan (tests that change how queries compile)."""
    _plans.forget()


def _plan_compile(
    stand_in_filter: Q, names: list[str], build: Callable[[Q, Mapping[str, str]], QuerySet]
) -> ModelPlan | None:
    stand_ins = {name: _STAND_IN_TEXT.format(index) for index, name in enumerate(names)}
    queryset = build(stand_in_filter, stand_ins)
    # The user's pk may be absent (a staff filter sees everything); every value is there.
    return model_plan_compile(
        queryset, {**stand_ins, _USER_SLOT: STAND_IN_USER_PK}, optional=frozenset({_USER_SLOT})
    )


_PLAIN_LEAVES = (type(None), bool, int, float, str, dt.date, dt.datetime)
_USER_PK = ("user pk",)


def _filter_key(q: Any, user_pk: int) -> tuple | None:
    """A hashable rendering of a filter, the user's pk (an int leaf equal to `user_pk`)
    rendered as a mark of its own: two filters that differ only in whose pk they hold
    render alike. None where a leaf is outside a closed set of types (a queryset, an
    unknown expression): such a filter is not planned."""
    if isinstance(q, Q):
        children = tuple(_filter_key(child, user_pk) for child in q.children)
        return None if None in children else ("Q", q.connector, q.negated, children)
    if isinstance(q, list | tuple):
        items = tuple(_filter_key(item, user_pk) for item in q)
        return None if None in items else (type(q).__name__, items)
    if type(q) is RawSQL:
        params = _filter_key(list(q.params), user_pk)
        return None if params is None else ("RawSQL", q.sql, params)
    if type(q) is F:
        return ("F", q.name)
    if type(q) in _PLAIN_LEAVES:
        return _USER_PK if type(q) is int and q == user_pk else (type(q).__name__, q)
    return None
