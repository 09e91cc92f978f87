"""The registry that answers "may this user do X to this thing".

Each app declares its own rules in `<app>/rules.py`, which its AppConfig.ready() imports,
so every rule is registered at start-up and `accounts` imports no app:

    @rule("labs.view_run")
    def may_view_run(user, run) -> bool: ...

    @rule_filter("labs.runs")
    def runs_visible(user) -> Q: ...

Views, templates and hooks ask by name, in one call:

    may(user, "labs.cancel_run", run)                   # -> bool
    visible(user, "labs.runs", LabRun.objects.all())    # -> the rows the user may see
    access_or_404(user, "labs.view_run", run)           # -> run, or Http404

A rule is a predicate `(user, obj, **context) -> bool` (context: keywords the rule needs
beyond the object, e.g. the lesson page an exercise is started from). A filter is
`(user) -> Q`, the queryset equivalent of a view rule for lists. Asking for a name nobody
registered raises `UnknownRule`: a typo must fail loudly, never deny silently. Rules are
named "<app label>.<verb>_<thing>"; names are unique.

`access_or_404` answers 404, never 403, where the object must not be revealed (a resident
must not learn that another resident's run number 41 exists); a missing object (None) is
404 the same way, so "absent" and "not yours" look alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy as _

Rule = Callable[..., bool]
RuleFilter = Callable[[Any], Q]
Observer = Callable[[str, str], None]
T = TypeVar("T")

_rules: dict[str, Rule] = {}
_filters: dict[str, RuleFilter] = {}
_observers: list[Observer] = []


class UnknownRule(LookupError):
    """A rule or filter was asked for by a name nobody registered."""


class DuplicateRule(ValueError):
    """Two declarations claim one rule name."""


def _register(table: dict, kind: str, name: str, function) -> None:
    existing = table.get(name)
    if existing is not None and existing is not function:
        raise DuplicateRule(
            f"{kind} {name!r} is already registered by {existing.__module__}."
            f"{existing.__qualname__}"
        )
    table[name] = function


def rule(name: str) -> Callable[[T], T]:
    """Register the decorated predicate `(user, obj, **context) -> bool` under `name`."""

    def register(function: T) -> T:
        _register(_rules, "rule", name, function)
        return function

    return register


def rule_filter(name: str) -> Callable[[T], T]:
    """Register the decorated `(user) -> Q` (the rows this user may see) under `name`."""

    def register(function: T) -> T:
        _register(_filters, "filter", name, function)
        return function

    return register


def _lookup(table: dict, kind: str, name: str):
    try:
        function = table[name]
    except KeyError:
        raise UnknownRule(f"No {kind} is registered as {name!r}.") from None
    for observer in _observers:
        observer(kind, name)
    return function


def may(user, name: str, obj: Any = None, **context) -> bool:
    """Whether the rule `name` allows this user this object (None for rules about the user
    alone, e.g. "grading.mark")."""
    return bool(_lookup(_rules, "rule", name)(user, obj, **context))


def may_use_lesson_exercise(
    user, exercise, *, page, usable: bool, embedded_ids: Callable[[Any], set]
) -> bool:
    """The one start rule of every lab family: a signed-in person who may read the lesson
    may use a usable exercise the lesson embeds, and no other. `embedded_ids(page)`: the
    family's exercise pks in the lesson (asked last, it reads the page's body)."""
    from accounts import roles

    return (
        roles.is_signed_in(user)
        and usable
        and may(user, "curriculum.view_page", page)
        and exercise.pk in embedded_ids(page)
    )


def visible_q(user, name: str) -> Q:
    """The filter `name` for this user, to combine (e.g. `.exclude(...)`) in a selector."""
    return _lookup(_filters, "filter", name)(user)


def visible(user, name: str, queryset: QuerySet) -> QuerySet:
    """The rows of `queryset` the filter `name` lets this user see."""
    return queryset.filter(visible_q(user, name))


def access_or_404(user, name: str, obj: T | None, **context) -> T:
    """`obj` if the rule `name` allows it to this user, else Http404 (also for None; the
    name is looked up first, so a typo is never mistaken for a missing object)."""
    allows = _lookup(_rules, "rule", name)
    if obj is None or not allows(user, obj, **context):
        raise Http404(_("Not found."))
    return obj


def registered_rules() -> frozenset[str]:
    return frozenset(_rules)


def registered_filters() -> frozenset[str]:
    return frozenset(_filters)


def add_observer(observer: Observer) -> None:
    """Call `observer(kind, name)` ("rule" or "filter") on every ask (tests record which
    rules the role matrix exercises)."""
    _observers.append(observer)


def remove_observer(observer: Observer) -> None:
    _observers.remove(observer)
