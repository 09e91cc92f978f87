"""Every registered access rule is asked while the role matrix runs (tests/rule_coverage.py).

When the whole matrix already ran in this session, what it asked is reused; otherwise (this
file run alone, or the matrix split across workers) the matrix is walked here once more.
"""

from __future__ import annotations

import pytest

from accounts import permissions
from tests import test_role_matrix
from tests.test_role_matrix import MATRIX, WHO, _outcome

# The matrix's own fixture (the demo lesson, a finished run, the people), for walking it here.
matrix_world = test_role_matrix.matrix_world
matrix_context = test_role_matrix.matrix_context


@pytest.mark.django_db
def test_every_registered_rule_is_exercised_by_the_role_matrix(client, request, rule_coverage):
    if len(rule_coverage.matrix_tests_run) < len(MATRIX):
        matrix_context = request.getfixturevalue("matrix_context")
        with rule_coverage.recording():
            for row in MATRIX:
                for who in WHO:
                    _outcome(client, row, who, matrix_context)
    asked_rules = {name for kind, name in rule_coverage.asked if kind == "rule"}
    asked_filters = {name for kind, name in rule_coverage.asked if kind == "filter"}
    unasked_rules = sorted(permissions.registered_rules() - asked_rules)
    assert unasked_rules == [], f"rules no URL of the matrix asks: {unasked_rules}"
    unasked_filters = sorted(permissions.registered_filters() - asked_filters)
    assert unasked_filters == [], f"filters no URL of the matrix asks: {unasked_filters}"
