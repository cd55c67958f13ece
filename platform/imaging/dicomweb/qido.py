"""QIDO-RS (PS3.18 10.6): search studies, series and instances of a project from DB columns.

A page of results costs one query: the page itself, with the parent rows joined and, for
studies, the related-series and related-instance counts as subqueries. Instance counts come from
Series.instance_count, which ingest keeps in step with the rows it inserts.

Building that query with the ORM costs more CPU than PostgreSQL takes to run it, and clients
repeat the same searches (a worklist refreshed, a viewer opening a study), so the SQL of recent
searches is kept per process (_compiled); the rows are always read afresh.
"""

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse

from config.errors import PlatformError
from imaging.dicomweb.attributes import (
    ATTRIBUTES,
    BY_TAG,
    DEFAULTS,
    PREFIX,
    Attribute,
    Level,
    Match,
    UnknownAttribute,
    element,
    tag_of,
)
from imaging.dicomweb.auth import Caller
from imaging.dicomweb.endpoint import dicomweb_view
from imaging.dicomweb.negotiation import require_json
from imaging.dicomweb.responses import dicom_json
from imaging.models import Instance, Series, Study

# A search without a limit returns at most this many results, with a Warning header saying so.
MAX_RESULTS = 1000
CONTROL_PARAMS = frozenset({"limit", "offset", "includefield", "fuzzymatching"})
RETRIEVE_URL, AVAILABILITY, CHARSET = "00081190", "00080056", "00080005"
MORE_RESULTS_WARNING = (
    '299 noduleflow "The number of results exceeded the maximum supported by the server. '
    'Additional results can be requested."'
)


@dataclass
class Search:
    level: Level
    scope: dict[Level, str]  # UIDs fixed by the path: study, and series for instances
    filters: list[tuple[Attribute, list[str]]] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)  # tags, in our table
    extra: list[str] = field(default_factory=list)  # tags read from the instances' JSON
    limit: int = MAX_RESULTS
    offset: int = 0
    capped: bool = True  # the limit is ours, not the client's
    warnings: list[str] = field(default_factory=list)


def parse_search(params: QueryDict, level: Level, scope: dict[Level, str]) -> Search:
    """Read the query string; PlatformError (400) naming the first bad parameter."""
    search = Search(level, scope)
    _paging(params, search)
    ignored: list[str] = []
    for name, values in params.lists():
        if name in CONTROL_PARAMS:
            continue
        try:
            attribute = BY_TAG.get(tag_of(name))
        except UnknownAttribute:
            raise PlatformError(f"{name} is not a DICOM attribute keyword or tag") from None
        if attribute is None or attribute.match is Match.NONE or attribute.level > level:
            ignored.append(name)
            continue
        # Lists only where the attribute matches lists: a description may hold a comma.
        listed = attribute.match in (Match.UID, Match.CODE, Match.MODALITIES)
        search.filters.append((attribute, _split_values(values) if listed else values))
    if ignored:
        search.warnings.append(
            f'299 noduleflow "These attributes are not supported for matching and were ignored: '
            f'{", ".join(sorted(ignored))}"'
        )
    _returned(params, search)
    return search


def _paging(params: QueryDict, search: Search) -> None:
    for name, minimum in (("limit", 1), ("offset", 0)):
        raw = params.get(name)
        if raw is None:
            continue
        try:
            value = int(raw)
        except ValueError:
            raise PlatformError(f"{name} must be an integer, not {raw!r}") from None
        if value < minimum:
            raise PlatformError(f"{name} must be at least {minimum}")
        setattr(search, name, value)
    if params.get("limit") is not None:
        search.capped = search.limit > MAX_RESULTS
        search.limit = min(search.limit, MAX_RESULTS)


def _split_values(values: list[str]) -> list[str]:
    """Repeated parameters and comma- or backslash-separated lists, as one list."""
    return [part for value in values for part in re.split(r"[,\\]", value)]


def _levels_returned(search: Search) -> list[Level]:
    """The query level, plus the parent levels its path does not already fix (PS3.18 10.6.3.3)."""
    levels = [search.level]
    for parent in (Level.SERIES, Level.STUDY):
        if parent < search.level and parent not in search.scope:
            levels.append(parent)
    return levels


def _returned(params: QueryDict, search: Search) -> None:
    levels = _levels_returned(search)
    keywords: list[str] = [k for level in levels for k in DEFAULTS[level]]
    tags = [tag_of(k) for k in keywords]
    # A parent's counts would cost an aggregate per row; they are returned at their own level.
    tags = [t for t in tags if BY_TAG[t].match is not Match.NONE or BY_TAG[t].level == search.level]
    for parent in (Level.STUDY, Level.SERIES):
        if parent < search.level:
            tags.append(tag_of(f"{parent.name.title()}InstanceUID"))
    tags += [attribute.tag for attribute, _ in search.filters]
    for value in _split_values(params.getlist("includefield")):
        if value == "all":
            tags += [a.tag for a in ATTRIBUTES if a.level <= search.level and a.match != Match.NONE]
            continue
        try:
            tag = tag_of(value)
        except UnknownAttribute:
            raise PlatformError(
                f"includefield {value!r} is not a keyword, a tag or 'all'"
            ) from None
        attribute = BY_TAG.get(tag)
        if attribute is not None and attribute.level <= search.level:
            tags.append(tag)
        elif attribute is None and tag not in (RETRIEVE_URL, AVAILABILITY, CHARSET):
            search.extra.append(tag)
    search.returned = list(dict.fromkeys(tags))
    search.extra = list(dict.fromkeys(search.extra))


# --- matching ------------------------------------------------------------------------------


def _wildcard_regex(value: str) -> str:
    return (
        "^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value) + "$"
    )


def _text(path: str, value: str, *, insensitive: bool) -> Q:
    if "*" in value or "?" in value:
        lookup = "iregex" if insensitive else "regex"
        return Q(**{f"{path}__{lookup}": _wildcard_regex(value)})
    return Q(**{f"{path}__iexact" if insensitive else path: value})


def _date(value: str, keyword: str) -> str:
    try:
        datetime.strptime(value, "%Y%m%d")
    except ValueError:
        raise PlatformError(
            f"{keyword} must be a date YYYYMMDD or a range YYYYMMDD-YYYYMMDD, not {value!r}"
        ) from None
    return value


def _date_range(path: str, value: str, keyword: str) -> Q:
    if "-" not in value:
        return Q(**{path: _date(value, keyword)})
    low, high = (part.strip() for part in value.split("-", 1))
    if not low and not high:
        raise PlatformError(f"{keyword} range needs at least one end")
    condition = ~Q(**{path: ""})
    if low:
        condition &= Q(**{f"{path}__gte": _date(low, keyword)})
    if high:
        condition &= Q(**{f"{path}__lte": _date(high, keyword)})
    if low and high and low > high:
        raise PlatformError(f"{keyword} range ends before it starts")
    return condition


def _study_ref(level: Level) -> str:
    return {Level.STUDY: "pk", Level.SERIES: "study_id", Level.INSTANCE: "series__study_id"}[level]


def _condition(attribute: Attribute, values: list[str], level: Level) -> Q | None:
    """The filter for one matching key; None for universal matching (empty or "*")."""
    values = [v.strip() for v in values if v.strip()]
    if not values or values == ["*"]:
        return None
    path = PREFIX[(attribute.level, level)] + attribute.field
    match attribute.match:
        case Match.UID | Match.CODE:
            return Q(**{f"{path}__in": values})
        case Match.MODALITIES:
            return Q(
                Exists(
                    Series.objects.filter(study_id=OuterRef(_study_ref(level)), modality__in=values)
                )
            )
        case Match.INTEGER:
            try:
                return Q(**{path: int(values[0])})
            except ValueError:
                raise PlatformError(f"{attribute.keyword} must be an integer") from None
        case Match.DATE:
            return _date_range(path, values[0], attribute.keyword)
        case Match.PERSON_NAME:
            return _text(path, values[0], insensitive=True)
        case _:
            return _text(path, values[0], insensitive=False)


# --- queries -------------------------------------------------------------------------------


ORDERING: dict[Level, tuple[Any, ...]] = {
    Level.STUDY: ("-study_date", "-study_time", "pk"),
    Level.SERIES: (F("series_number").asc(nulls_last=True), "pk"),
    Level.INSTANCE: (F("instance_number").asc(nulls_last=True), "pk"),
}
MODELS: dict[Level, type[Model]] = {
    Level.STUDY: Study,
    Level.SERIES: Series,
    Level.INSTANCE: Instance,
}


def _uid_path(level: Level, of: Level) -> str:
    name = {Level.STUDY: "study", Level.SERIES: "series", Level.INSTANCE: "sop"}[level]
    return PREFIX[(level, of)] + f"{name}_instance_uid"


def _columns(search: Search) -> list[str]:
    """The column paths the results are built from: rows come back as dicts, not models."""
    columns = {"pk"}
    columns.update(_uid_path(level, search.level) for level in Level if level <= search.level)
    for tag in search.returned:
        attribute = BY_TAG[tag]
        if attribute.field:
            columns.add(PREFIX[(attribute.level, search.level)] + attribute.field)
    if search.extra:
        columns.add("metadata_json" if search.level is Level.INSTANCE else "sample_metadata")
    columns.update(COUNT_COLUMNS[tag] for tag in search.returned if BY_TAG[tag].match is Match.NONE)
    return sorted(columns)


def _queryset(search: Search, project_id: int) -> QuerySet[Any, dict[str, Any]]:
    queryset: QuerySet[Any] = MODELS[search.level]._default_manager.filter(project_id=project_id)
    for level, uid in search.scope.items():
        queryset = queryset.filter(**{_uid_path(level, search.level): uid})
    for attribute, values in search.filters:
        condition = _condition(attribute, values, search.level)
        if condition is not None:
            queryset = queryset.filter(condition)
    if search.extra and search.level is not Level.INSTANCE:
        queryset = queryset.annotate(sample_metadata=Subquery(_sample(search.level)))
    if search.level is Level.STUDY:
        queryset = queryset.annotate(**_study_counts(search))
    return queryset.order_by(*ORDERING[search.level]).values(*_columns(search))


def _study_counts(search: Search) -> dict[str, Coalesce]:
    """Related series and instances per study, as subqueries of the page's own query."""
    wanted = {COUNT_COLUMNS[t] for t in search.returned if BY_TAG[t].match is Match.NONE}
    of_study = Series.objects.filter(study_id=OuterRef("pk")).order_by().values("study_id")
    aggregates = {"n_series": Count("id"), "n_instances": Sum("instance_count")}
    return {
        name: Coalesce(
            Subquery(of_study.annotate(n=aggregates[name]).values("n")),
            Value(0),
            output_field=IntegerField(),
        )
        for name in sorted(wanted)
    }


def _sample(level: Level) -> QuerySet[Instance, Any]:
    """One instance's JSON per study or series, for include fields we keep no column for."""
    scope = (
        {"series__study": OuterRef("pk")} if level is Level.STUDY else {"series": OuterRef("pk")}
    )
    return (
        Instance.objects.filter(**scope)
        .order_by("series_id", F("instance_number").asc(nulls_last=True), "pk")
        .values("metadata_json")[:1]
    )


# The column of each computed count: instance counts of a series are kept by ingest, the
# study's are summed from its series.
COUNT_COLUMNS: dict[str, str] = {
    "00201206": "n_series",
    "00201208": "n_instances",
    "00201209": "instance_count",
}


# --- results -------------------------------------------------------------------------------


def _retrieve_path(row: dict[str, Any], level: Level) -> str:
    path = f"studies/{row[_uid_path(Level.STUDY, level)]}"
    if level >= Level.SERIES:
        path += f"/series/{row[_uid_path(Level.SERIES, level)]}"
    if level is Level.INSTANCE:
        path += f"/instances/{row['sop_instance_uid']}"
    return path


def _result(row: dict[str, Any], search: Search, base_url: str) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {
        CHARSET: {"vr": "CS", "Value": ["ISO_IR 192"]},
        AVAILABILITY: {"vr": "CS", "Value": ["ONLINE"]},
        RETRIEVE_URL: {"vr": "UR", "Value": [base_url + _retrieve_path(row, search.level)]},
    }
    for tag in search.returned:
        attribute = BY_TAG[tag]
        if attribute.match is Match.NONE:
            result[tag] = element(attribute.vr, row[COUNT_COLUMNS[tag]] or 0)
        else:
            path = PREFIX[(attribute.level, search.level)] + attribute.field
            result[tag] = element(attribute.vr, row[path])
    if search.extra:
        text = row.get("metadata_json") or row.get("sample_metadata")
        metadata = json.loads(text) if text else {}
        for tag in search.extra:
            if tag in metadata:
                result[tag] = metadata[tag]
    return dict(sorted(result.items()))


@dataclass(frozen=True, slots=True)
class CompiledSearch:
    using: str  # the database alias
    sql: str
    params: tuple[Any, ...]
    # Per column position, the functions the ORM applies to a value read (count subqueries
    # come back through int(), for one), and the expression they are given.
    converters: tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]


MAX_COMPILED = 256
_compiled_searches: OrderedDict[tuple[Any, ...], CompiledSearch] = OrderedDict()
_compiled_lock = threading.Lock()


def _search_key(search: Search, project_id: int) -> tuple[Any, ...]:
    filters = tuple((attribute.tag, tuple(values)) for attribute, values in search.filters)
    return (
        project_id,
        search.level,
        tuple(sorted(search.scope.items())),
        filters,
        tuple(search.returned),
        tuple(search.extra),
        search.offset,
        search.limit,
    )


def _compiled(search: Search, project_id: int) -> CompiledSearch | None:
    """The page's SQL, from the ORM once per distinct search; None if it can match nothing."""
    key = _search_key(search, project_id)
    with _compiled_lock:
        found = _compiled_searches.get(key)
        if found is not None:
            _compiled_searches.move_to_end(key)
            return found
    queryset = _queryset(search, project_id)[search.offset : search.offset + search.limit + 1]
    compiler = queryset.query.get_compiler(using=queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return None  # nothing can match: the ORM answers that without a query
    converters = compiler.get_converters([column for column, _, _ in compiler.select])
    compiled = CompiledSearch(
        queryset.db,
        sql,
        tuple(params),
        tuple((i, tuple(funcs), expr) for i, (funcs, expr) in sorted(converters.items())),
    )
    with _compiled_lock:
        _compiled_searches[key] = compiled
        while len(_compiled_searches) > MAX_COMPILED:
            _compiled_searches.popitem(last=False)
    return compiled


def _rows(search: Search, project_id: int) -> list[dict[str, Any]]:
    """The page plus one row (to tell whether there are more), as dicts keyed by column path."""
    compiled = _compiled(search, project_id)
    if compiled is None:
        queryset = _queryset(search, project_id)
        return list(queryset[search.offset : search.offset + search.limit + 1])
    # The SQL names each column by its path ("... AS patient__patient_id"), as values() does.
    connection = connections[compiled.using]
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, compiled.params)
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    if compiled.converters:
        rows = [list(row) for row in rows]
        for row in rows:
            for position, functions, expression in compiled.converters:
                for function in functions:
                    row[position] = function(row[position], expression, connection)
    return [dict(zip(names, row, strict=True)) for row in rows]


def run_search(request: HttpRequest, project_id: int, search: Search) -> HttpResponse:
    """The search's page of results as DICOM JSON; an empty page is 200 with []."""
    rows = _rows(search, project_id)
    more = len(rows) > search.limit
    rows = rows[: search.limit]
    base_url = request.build_absolute_uri(reverse("dicomweb-studies", args=[project_id]))
    base_url = base_url.removesuffix("studies")
    results = [_result(row, search, base_url) for row in rows]
    response = dicom_json(request, results)
    warnings = list(search.warnings)
    if more and search.capped:
        warnings.append(MORE_RESULTS_WARNING)
    if warnings:
        response["Warning"] = ", ".join(warnings)
    return response


def _search(
    request: HttpRequest, project_id: int, level: Level, scope: dict[Level, str]
) -> HttpResponse:
    require_json(request.headers.get("Accept"))
    return run_search(request, project_id, parse_search(request.GET, level, scope))


# --- views ---------------------------------------------------------------------------------


@dicomweb_view("GET")
def search_studies(request: HttpRequest, caller: Caller, project_id: int) -> HttpResponse:
    return _search(request, project_id, Level.STUDY, {})


@dicomweb_view("GET")
def search_series(
    request: HttpRequest, caller: Caller, project_id: int, study: str | None = None
) -> HttpResponse:
    return _search(request, project_id, Level.SERIES, _scope(study=study))


@dicomweb_view("GET")
def search_instances(
    request: HttpRequest,
    caller: Caller,
    project_id: int,
    study: str | None = None,
    series: str | None = None,
) -> HttpResponse:
    return _search(request, project_id, Level.INSTANCE, _scope(study=study, series=series))


def _scope(study: str | None = None, series: str | None = None) -> dict[Level, str]:
    pairs: Iterable[tuple[Level, str | None]] = ((Level.STUDY, study), (Level.SERIES, series))
    return {level: uid for level, uid in pairs if uid is not None}
