"""The access-rule registry itself (accounts.permissions): names are unique, an unknown name
is refused loudly, 404 for what must not be revealed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db.models import Q
from django.http import Http404

from accounts import permissions
from accounts.models import User

CALLER = SimpleNamespace(pk=7, is_authenticated=True, is_active=True, role="resident")


@pytest.fixture
def scratch_rules():
    """Register throw-away rules for one test and remove them afterwards."""
    before_rules, before_filters = dict(permissions._rules), dict(permissions._filters)
    yield
    permissions._rules.clear()
    permissions._rules.update(before_rules)
    permissions._filters.clear()
    permissions._filters.update(before_filters)


def test_an_unknown_rule_is_refused_not_silently_denied():
    with pytest.raises(permissions.UnknownRule, match=r"labs\.view_rnu"):
        permissions.may(CALLER, "labs.view_rnu", SimpleNamespace(user_id=7))
    with pytest.raises(permissions.UnknownRule):
        permissions.access_or_404(CALLER, "no.such_rule", object())
    with pytest.raises(permissions.UnknownRule):
        permissions.visible_q(CALLER, "no.such_filter")


def test_an_unknown_rule_is_refused_even_for_a_missing_object():
    """access_or_404 asks the rule before it answers 404, so a typo never hides as a 404."""
    with pytest.raises(permissions.UnknownRule):
        permissions.access_or_404(CALLER, "no.such_rule", None)


def test_a_rule_name_is_registered_once(scratch_rules):
    @permissions.rule("scratch.open")
    def first(user, obj):
        return True

    with pytest.raises(permissions.DuplicateRule, match=r"scratch\.open"):

        @permissions.rule("scratch.open")
        def second(user, obj):
            return False

    assert permissions.may(CALLER, "scratch.open", object())


def test_a_filter_name_is_registered_once(scratch_rules):
    permissions.rule_filter("scratch.rows")(lambda user: Q())
    with pytest.raises(permissions.DuplicateRule):
        permissions.rule_filter("scratch.rows")(lambda user: Q(pk__in=[]))


def test_registering_the_same_function_again_is_harmless(scratch_rules):
    """A module imported twice (e.g. by a test runner's reload) registers the same object."""

    def open_rule(user, obj):
        return True

    permissions.rule("scratch.open")(open_rule)
    permissions.rule("scratch.open")(open_rule)
    assert "scratch.open" in permissions.registered_rules()


def test_access_or_404_answers_404_for_refused_and_missing_alike(scratch_rules):
    permissions.rule("scratch.own")(lambda user, obj: obj.user_id == user.pk)
    mine, theirs = SimpleNamespace(user_id=7), SimpleNamespace(user_id=8)
    assert permissions.access_or_404(CALLER, "scratch.own", mine) is mine
    with pytest.raises(Http404):
        permissions.access_or_404(CALLER, "scratch.own", theirs)
    with pytest.raises(Http404):
        permissions.access_or_404(CALLER, "scratch.own", None)


def test_rules_receive_the_context_they_need(scratch_rules):
    permissions.rule("scratch.start")(lambda user, exercise, *, page: page == "lesson")
    assert permissions.may(CALLER, "scratch.start", object(), page="lesson")
    assert not permissions.may(CALLER, "scratch.start", object(), page="module")


@pytest.mark.django_db
def test_visible_filters_a_queryset(scratch_rules):
    permissions.rule_filter("scratch.self")(lambda user: Q(pk=user.pk))
    alice = User.objects.create_user("alice", role="resident")
    User.objects.create_user("bob", role="resident")
    assert list(permissions.visible(alice, "scratch.self", User.objects.all())) == [alice]


def test_observers_hear_every_ask(scratch_rules):
    permissions.rule("scratch.open")(lambda user, obj: True)
    heard = []

    def observer(kind, name):
        heard.append((kind, name))

    permissions.add_observer(observer)
    try:
        permissions.may(CALLER, "scratch.open")
    finally:
        permissions.remove_observer(observer)
    permissions.may(CALLER, "scratch.open")
    assert heard == [("rule", "scratch.open")]


def test_every_app_with_rules_registers_them_at_start_up():
    """Each app's rules.py is imported by its AppConfig.ready(), so its names are known:
    every project app with a rules module has registered names, and no other prefix does."""
    import importlib.util

    with_rules = {
        config.label
        for config in apps.get_app_configs()
        if not config.name.startswith(("django.", "wagtail", "axes", "csp", "rest_framework"))
        and importlib.util.find_spec(f"{config.name}.rules") is not None
    }
    prefixes = {name.split(".")[0] for name in permissions.registered_rules()}
    prefixes |= {name.split(".")[0] for name in permissions.registered_filters()}
    assert {"assessments", "curriculum", "labs", "grading", "api", "runs"} <= with_rules
    assert prefixes == with_rules
    assert all(apps.is_installed(prefix) for prefix in prefixes)


def test_accounts_imports_no_other_project_app():
    """accounts is the lowest layer: its modules import only Django, Wagtail, the standard
    library and accounts itself (functions included: imports inside functions count)."""
    import ast
    from pathlib import Path

    import accounts

    project_apps = {
        config.name.split(".")[0]
        for config in apps.get_app_configs()
        if Path(config.path).parent == Path(accounts.__path__[0]).parent
    } - {"accounts"}
    assert project_apps, "the project's own apps were found"
    offenders = []
    for source in Path(accounts.__path__[0]).rglob("*.py"):
        if "migrations" in source.parts:
            continue
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            offenders += [
                f"{source.name}: {name}" for name in names if name.split(".")[0] in project_apps
            ]
    assert offenders == []
