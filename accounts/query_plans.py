"""Query plans: a query's SQL compiled once per shape, run with each call's values.

Django builds and compiles a queryset anew on every call. For a query that a hot page asks
again and again with only its values changed (a QIDO search by PatientID, a resident's
progress in one lesson), building it cost more than the database spent answering (issue
18). A plan is the compiled SQL of one shape, made from *stand-in* values, and the
positions where each stand-in appears among the compiled parameters become slots that a
call fills with its own values.

What makes this safe, checked rather than assumed:
- Every stand-in must appear verbatim among the compiled parameters, and its marker (a run
  of digits no real value carries) nowhere else: not in the SQL text, not inside another
  parameter. So a value the ORM transformed on the way in (a LIKE pattern, an upper-cased
  copy) or wrote into the SQL refuses the plan.
- Slots take only integers (not booleans) and non-empty strings: values whose SQL never
  depends on the value itself (None becomes IS NULL; a list changes the number of
  placeholders, so a list's length is part of the shape).
- Rows are converted with this thread's connection's converters, as the ORM converts them
  (SQLCompiler.apply_converters): dates from SQLite's text, JSON, booleans...
What a shape is, and that the query is a pure function of the stand-ins, is the caller's
to say (studies.search_plans, curriculum.selectors); `PlanCache` keeps plans, and the
shapes that could not be planned, per process.

Lives in the bottom layer (accounts) because apps at every layer use it; it names none.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connections

# A stand-in string must carry a run of at least this many digits: its marker.
_MARKER_DIGITS = re.compile(r"\d{8,}")
# A primary key no user has: the stand-in for the user asking, in every plan.
STAND_IN_USER_PK = 7_340_019_853_211


@dataclass(frozen=True)
class QueryPlan:
    """The compiled SQL of one shape and where each call's values go."""

    db: str
    sql: str
    params: tuple
    slots: tuple[tuple[int, str], ...]  # (parameter index, stand-in name)
    kinds: tuple[tuple[str, type], ...]  # (stand-in name, the type its values must have)
    columns: tuple  # the compiled select expressions (for the backend's converters)

    def takes(self, values: Mapping[str, object]) -> bool:
        """Whether these values may fill the slots: one for each stand-in, of its type
        (an int, not a bool, for an int; a non-empty string for a string)."""
        return all(
            type(values.get(name)) is kind and values[name] != "" for name, kind in self.kinds
        )

    def rows(self, values: Mapping[str, int | str]) -> list[list]:
        """The rows this plan's query returns for these values (see `takes`), each converted
        as the ORM would."""
        if not self.takes(values):
            raise ValueError("a plan's values must match its stand-ins' types")
        params = list(self.params)
        for index, name in self.slots:
            params[index] = values[name]
        connection = connections[self.db]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            found = cursor.fetchall()
        converters = []
        for position, column in enumerate(self.columns):
            functions = connection.ops.get_db_converters(column) + column.get_db_converters(
                connection
            )
            if functions:
                converters.append((position, functions, column))
        rows = []
        for row in found:
            row = list(row)
            for position, functions, column in converters:
                for function in functions:
                    row[position] = function(row[position], column, connection)
            rows.append(row)
        return rows


def plan_compile(
    queryset, stand_ins: Mapping[str, int | str], *, optional: frozenset[str] = frozenset()
) -> tuple[QueryPlan, object] | None:
    """The plan of `queryset`, built from `stand_ins` (name: value), and its compiler (for
    checks of the caller's own); None where it cannot be planned (see the module
    docstring). A stand-in in `optional` may be absent from the query (a staff filter
    that never names the user)."""
    markers = {}
    for name, value in stand_ins.items():
        if type(value) not in (int, str):
            raise TypeError(f"the stand-in {name!r} is neither an int nor a string")
        if type(value) is int:
            markers[name] = str(value)
        else:
            digits = _MARKER_DIGITS.search(value)
            if digits is None:
                raise ValueError(f"the stand-in {name!r} carries no marker of digits")
            markers[name] = digits.group()
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except (EmptyResultSet, FullResultSet):
        return None
    by_value = {(type(value), value): name for name, value in stand_ins.items()}
    slots = []
    for index, param in enumerate(params):
        name = by_value.get((type(param), param))
        if name is not None:
            slots.append((index, name))
        elif any(marker in str(param) for marker in markers.values()):
            return None  # a stand-in inside another value: transformed on the way in
    found = {name for _, name in slots}
    if set(stand_ins) - set(optional) - found:
        return None
    if any(marker in sql for marker in markers.values()):
        return None
    plan = QueryPlan(
        db=queryset.db,
        sql=sql,
        params=tuple(params),
        slots=tuple(slots),
        kinds=tuple((name, type(value)) for name, value in stand_ins.items()),
        columns=tuple(column for column, _, _ in compiler.select[: compiler.col_count]),
    )
    return plan, compiler


@dataclass(frozen=True)
class ModelPlan:
    """A plan whose rows are a model's objects (a plain queryset: no joins loaded, no
    annotations, no prefetching)."""

    plan: QueryPlan
    model: type
    init_list: tuple[str, ...]  # attribute names of the selected columns, in order

    def objects(self, values: Mapping[str, int | str]) -> list:
        rows = self.plan.rows(values)
        return [self.model.from_db(self.plan.db, self.init_list, row) for row in rows]


def model_plan_compile(
    queryset, stand_ins: Mapping[str, int | str], *, optional: frozenset[str] = frozenset()
) -> ModelPlan | None:
    """The plan of a queryset of model objects (see plan_compile); None where it cannot be
    planned, or where the queryset loads more than the model's own columns (related
    objects, annotations, prefetches), which `ModelPlan.objects` would not rebuild."""
    compiled = plan_compile(queryset, stand_ins, optional=optional)
    if compiled is None:
        return None
    plan, compiler = compiled
    info = compiler.klass_info
    if (
        not info
        or info.get("related_klass_infos")
        or compiler.annotation_col_map
        or queryset._prefetch_related_lookups
        or queryset._known_related_objects
        or info["select_fields"] != list(range(len(compiler.select)))
    ):
        return None
    return ModelPlan(
        plan=plan,
        model=info["model"],
        init_list=tuple(column.target.attname for column, _, _ in compiler.select),
    )


class PlanCache:
    """The last `size` shapes' plans in this process; a shape that could not be planned
    is remembered as such (None) so that it is not compiled again."""

    def __init__(self, size: int):
        self.size = size
        self._plans: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compile_plan: Callable[[], object]):
        with self._lock:
            known = key in self._plans
            plan = self._plans.get(key)
            if known:
                self._plans.move_to_end(key)
        if not known:
            plan = compile_plan()
            with self._lock:
                self._plans[key] = plan
                while len(self._plans) > self.size:
                    self._plans.popitem(last=False)
        return plan

    def forget(self) -> None:
        with self._lock:
            self._plans.clear()

    def __len__(self) -> int:
        return len(self._plans)

    def values(self) -> list:
        """The plans kept (None for a shape that could not be planned), oldest first."""
        with self._lock:
            return list(self._plans.values())
