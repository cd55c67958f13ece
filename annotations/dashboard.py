"""The lead's dashboard of one project: progress, throughput, time per task, rework, agreement
between readers and the model's correction effort.

Every figure is aggregated in the database, so the dashboard costs the same fixed number of
queries (`DASHBOARD_QUERIES`) at ten tasks or a hundred thousand: counts are `Count(filter=...)`
columns of one GROUP BY, days are truncated in SQL and medians are a percentile aggregate.
The tables of people and model versions are paged; the CSV export writes every row of the same
queries.
"""

import sqlite3
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    Expression,
    FloatField,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Coalesce, NullIf, TruncDate
from django.db.models.sql.compiler import SQLCompiler
from django.utils import timezone

from accounts.models import User
from annotations.models import Consensus, Review, ReviewDecision, Task, TaskState
from imaging.models import Series
from projects.models import Project
from projects.schema import parse_schema

if TYPE_CHECKING:
    from django.db.models.sql.compiler import _AsSqlType

# dashboard_for's queries: tasks, series, review times, created per day, accepted per day,
# annotators, reviewers, model versions, consensuses. The tests pin this number.
DASHBOARD_QUERIES = 9
BURNDOWN_DAYS = 365
RECENT_DAYS = 7

# A series is as far along as its least advanced reader task. Rework sits below submitted: the
# series waits on its annotator again.
PROGRESS_ORDER: tuple[TaskState, ...] = (
    TaskState.NEW,
    TaskState.IN_PROGRESS,
    TaskState.REWORK,
    TaskState.SUBMITTED,
    TaskState.IN_REVIEW,
    TaskState.ACCEPTED,
)
NO_TASK = "no_task"


# --- Database functions ------------------------------------------------------------------------
class MinutesBetween(Func):
    """Minutes from the datetime `start` to the datetime `end`, as a float; NULL if either is."""

    output_field = FloatField()
    arity = 2

    def __init__(self, start: str | Expression, end: str | Expression) -> None:
        # The SQL reads `end - start`: keep that order in the expressions.
        super().__init__(end, start)

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> "_AsSqlType":
        return self.as_sql(
            compiler,
            connection,
            # date_part gives a float; EXTRACT gives a numeric, a third slower to sort.
            template="date_part('epoch', %(expressions)s) / 60.0",
            arg_joiner=" - ",
            **extra,
        )

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> "_AsSqlType":
        return self.as_sql(
            compiler,
            connection,
            template="(julianday(%(expressions)s)) * 1440.0",
            arg_joiner=") - julianday(",
            **extra,
        )


class Median(Aggregate):
    """The median of a numeric expression (continuous: the mean of the two middle values when
    their number is even); NULLs are ignored, and the median of no value is NULL."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> "_AsSqlType":
        # SQLite has no percentile aggregate; the embedded mode gets a Python one, registered on
        # the connection that runs this query (registering again is harmless).
        connection.ensure_connection()
        raw = connection.connection
        assert isinstance(raw, sqlite3.Connection)
        # typeshed types SQLite aggregates as int-only; this one takes and gives floats.
        raw.create_aggregate(_SqliteMedian.sql_name, 1, _SqliteMedian)  # type: ignore[arg-type]
        # A copy with its own template: Aggregate.as_sql takes no template with a filter.
        clone = self.copy()
        clone.function = _SqliteMedian.sql_name
        clone.template = "%(function)s(%(expressions)s)"
        return clone.as_sql(compiler, connection, **extra)


class _SqliteMedian:
    sql_name = "NF_MEDIAN"

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        return statistics.median(self.values) if self.values else None


def _json_float(document: str, *path: str) -> Cast:
    """A number inside a JSON column as a float (NULL where the key is missing or null)."""
    expression: Any = document
    for key in path[:-1]:
        expression = KeyTransform(key, expression)
    # SQLite's text of a JSON null is 'null' (PostgreSQL's is NULL), which would cast to 0.
    return Cast(NullIf(KeyTextTransform(path[-1], expression), Value("null")), FloatField())


# --- What the dashboard shows ------------------------------------------------------------------
RowT = TypeVar("RowT")


@dataclass(frozen=True, slots=True)
class StateCount:
    state: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class BurndownDay:
    """Cumulative counts at the end of `day`: tasks created, tasks accepted, and still open."""

    day: date
    created: int
    accepted: int
    open: int


@dataclass(frozen=True, slots=True)
class AnnotatorRow:
    user_id: int
    name: str
    assigned: int
    submitted: int
    accepted: int
    # Tasks a reviewer (or a lead) sent back at least once.
    reworked: int
    submitted_recently: int
    # First save to last submit, so a task's rework rounds count in its time.
    median_minutes: float | None

    @property
    def rework_rate(self) -> float | None:
        return self.reworked / self.submitted if self.submitted else None


@dataclass(frozen=True, slots=True)
class ReviewerRow:
    user_id: int
    name: str
    reviews: int
    accepted: int
    rework: int
    reviews_recently: int
    # Start of review to decision; see `_review_minutes` for which reviews have a known start.
    median_minutes: float | None


@dataclass(frozen=True, slots=True)
class ModelRow:
    """How much people corrected one model version's pre-annotations: Dice of the model's
    revision with the accepted one, over the accepted tasks that started from it."""

    model_version_id: int
    name: str
    version: str
    accepted: int
    measured: int
    mean_dice: float | None
    median_dice: float | None


@dataclass(frozen=True, slots=True)
class TablePage(Generic[RowT]):
    rows: tuple[RowT, ...]
    number: int
    per_page: int
    total: int

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


@dataclass(frozen=True, slots=True)
class CharacteristicKappa:
    name: str
    label: str
    mean_kappa: float | None


@dataclass(frozen=True, slots=True)
class Agreement:
    """Means over the project's consensuses of their agreement figures; None where none has one."""

    consensuses: int
    mean_pairwise_dice: float | None
    mean_f1: float | None
    kappas: tuple[CharacteristicKappa, ...]


@dataclass(frozen=True, slots=True)
class Overall:
    tasks: int
    series: int
    # Tasks submitted at least once: the base of the rework rate.
    submitted: int
    reworked: int
    median_task_minutes: float | None
    median_review_minutes: float | None

    @property
    def rework_rate(self) -> float | None:
        return self.reworked / self.submitted if self.submitted else None


@dataclass(frozen=True, slots=True)
class Pages:
    """Which page of each table to show."""

    annotators: int = 1
    reviewers: int = 1
    models: int = 1


@dataclass(frozen=True, slots=True)
class Dashboard:
    project_id: int
    overall: Overall
    tasks_by_state: tuple[StateCount, ...]
    series_by_progress: tuple[StateCount, ...]
    burndown: tuple[BurndownDay, ...]
    annotators: TablePage[AnnotatorRow]
    reviewers: TablePage[ReviewerRow]
    models: TablePage[ModelRow]
    agreement: Agreement

    @property
    def is_empty(self) -> bool:
        return self.overall.tasks == 0


# --- The selector ------------------------------------------------------------------------------
def dashboard_for(project: Project, *, page: int | Pages = 1, per_page: int = 50) -> Dashboard:
    """Every figure of the project's dashboard in `DASHBOARD_QUERIES` queries, whatever the
    number of tasks; `page` picks the page of every table, or of each one with `Pages`."""
    pages = page if isinstance(page, Pages) else Pages(page, page, page)
    per_page = max(1, per_page)
    now = timezone.now()

    totals = _tasks(project).aggregate(
        tasks=Count("pk"),
        submitted=Count("pk", filter=Q(submitted_at__isnull=False)),
        reworked=Count("pk", filter=Q(rework_count__gt=0)),
        median_minutes=Median(MinutesBetween("started_at", "submitted_at")),
        **{f"state_{state}": Count("pk", filter=Q(state=state)) for state in TaskState.values},
    )
    series = _series_by_progress(project)
    review_minutes = _reviews(project).aggregate(
        median=Median(_review_minutes(), filter=_review_start_known())
    )["median"]
    return Dashboard(
        project_id=project.pk,
        overall=Overall(
            tasks=totals["tasks"],
            series=sum(row.count for row in series),
            submitted=totals["submitted"],
            reworked=totals["reworked"],
            median_task_minutes=totals["median_minutes"],
            median_review_minutes=review_minutes,
        ),
        tasks_by_state=tuple(
            StateCount(state.value, state.label, totals[f"state_{state.value}"])
            for state in PROGRESS_ORDER
        ),
        series_by_progress=series,
        burndown=_burndown(project, today=timezone.localdate(now)),
        annotators=_paged(_annotator_rows(project, now), pages.annotators, per_page),
        reviewers=_paged(_reviewer_rows(project, now), pages.reviewers, per_page),
        models=_paged(_model_rows(project), pages.models, per_page),
        agreement=_agreement(project),
    )


def _paged(rows: list[RowT], wanted: int, per_page: int) -> TablePage[RowT]:
    """One page of a table, `wanted` kept within the pages there are (like Paginator.get_page).

    The rows are people or model versions, a few hundred at most whatever the number of tasks,
    so all of them are fetched: a LIMIT would not make the GROUP BY cheaper (every group is
    aggregated before the limit applies) and the total number of rows comes for free.
    """
    last = max(1, -(-len(rows) // per_page))
    number = min(max(1, wanted), last)
    start = (number - 1) * per_page
    return TablePage(tuple(rows[start : start + per_page]), number, per_page, len(rows))


def _tasks(project: Project) -> QuerySet[Task]:
    return Task.objects.filter(project=project).order_by()


def _reviews(project: Project) -> QuerySet[Review]:
    return Review.objects.filter(project=project).order_by()


def _series_by_progress(project: Project) -> tuple[StateCount, ...]:
    """Series counted by their least advanced task; "no task" for series without one."""
    rank = Case(
        *(When(tasks__state=state, then=Value(i)) for i, state in enumerate(PROGRESS_ORDER)),
        output_field=IntegerField(),
    )
    counts = (
        Series.objects.filter(project=project)
        .order_by()
        .annotate(progress=Min(rank))
        .aggregate(
            none=Count("pk", filter=Q(progress__isnull=True)),
            **{
                state.value: Count("pk", filter=Q(progress=i))
                for i, state in enumerate(PROGRESS_ORDER)
            },
        )
    )
    return (
        StateCount(NO_TASK, "No task", counts["none"]),
        *(StateCount(state.value, state.label, counts[state.value]) for state in PROGRESS_ORDER),
    )


def _burndown(project: Project, *, today: date) -> tuple[BurndownDay, ...]:
    """One row per day from the project's start (at most `BURNDOWN_DAYS` ago) to today."""
    created = _per_day(_tasks(project), "created_at")
    # A lead who reopens accepted work clears accepted_at: the task is open again.
    accepted = _per_day(_tasks(project).filter(accepted_at__isnull=False), "accepted_at")
    if not created:
        return ()
    first = min(timezone.localdate(project.created_at), *created)
    start = max(first, today - timedelta(days=BURNDOWN_DAYS - 1))
    end = max(today, *created, *accepted)
    # Days before the window fold into its first day's running totals.
    created_total = sum(n for day, n in created.items() if day < start)
    accepted_total = sum(n for day, n in accepted.items() if day < start)
    days = []
    for offset in range((end - start).days + 1):
        day = start + timedelta(days=offset)
        created_total += created.get(day, 0)
        accepted_total += accepted.get(day, 0)
        days.append(BurndownDay(day, created_total, accepted_total, created_total - accepted_total))
    return tuple(days)


def _per_day(tasks: QuerySet[Task], field: str) -> dict[date, int]:
    rows = tasks.annotate(day=TruncDate(field)).values("day").annotate(n=Count("pk"))
    return {row["day"]: row["n"] for row in rows}


def _person(user_id: str) -> Subquery:
    """The name a person goes by, looked up once per table row after the GROUP BY: grouping
    by the integer id and not the names keeps text collation out of a sort of every task."""
    names = User.objects.filter(pk=OuterRef(user_id)).values(
        name=Coalesce(NullIf("display_name", Value("")), "username")
    )
    return Subquery(names[:1])


def _annotator_rows(project: Project, now: datetime) -> list[AnnotatorRow]:
    rows = (
        _tasks(project)
        .filter(assignee__isnull=False)
        .values("assignee_id")
        .annotate(
            assigned=Count("pk"),
            submitted=Count("pk", filter=Q(submitted_at__isnull=False)),
            accepted=Count("pk", filter=Q(state=TaskState.ACCEPTED)),
            reworked=Count("pk", filter=Q(rework_count__gt=0)),
            recent=Count("pk", filter=Q(submitted_at__gte=now - timedelta(days=RECENT_DAYS))),
            median_minutes=Median(MinutesBetween("started_at", "submitted_at")),
        )
        .annotate(name=_person("assignee_id"))
        .order_by("-assigned", "name", "assignee_id")
    )
    return [
        AnnotatorRow(
            user_id=row["assignee_id"],
            name=row["name"],
            assigned=row["assigned"],
            submitted=row["submitted"],
            accepted=row["accepted"],
            reworked=row["reworked"],
            submitted_recently=row["recent"],
            median_minutes=row["median_minutes"],
        )
        for row in rows
    ]


def _review_minutes() -> MinutesBetween:
    return MinutesBetween("started_at", "created_at")


def _review_start_known() -> Q:
    # A lead's reopen is a review without a review start: it has no review time.
    return Q(started_at__isnull=False)


def _reviewer_rows(project: Project, now: datetime) -> list[ReviewerRow]:
    rows = (
        _reviews(project)
        .values("reviewer_id")
        .annotate(
            reviews=Count("pk"),
            accepted=Count("pk", filter=Q(decision=ReviewDecision.ACCEPTED)),
            rework=Count("pk", filter=Q(decision=ReviewDecision.REWORK)),
            recent=Count("pk", filter=Q(created_at__gte=now - timedelta(days=RECENT_DAYS))),
            median_minutes=Median(_review_minutes(), filter=_review_start_known()),
        )
        .annotate(name=_person("reviewer_id"))
        .order_by("-reviews", "name", "reviewer_id")
    )
    return [
        ReviewerRow(
            user_id=row["reviewer_id"],
            name=row["name"],
            reviews=row["reviews"],
            accepted=row["accepted"],
            rework=row["rework"],
            reviews_recently=row["recent"],
            median_minutes=row["median_minutes"],
        )
        for row in rows
    ]


def _model_rows(project: Project) -> list[ModelRow]:
    # Through the foreign key, not an import: annotations may not import inference.
    model_versions = Review._meta.get_field("model_version").related_model._default_manager
    version = model_versions.filter(pk=OuterRef("model_version_id"))
    rows = (
        _reviews(project)
        .filter(decision=ReviewDecision.ACCEPTED, model_version__isnull=False)
        .values("model_version_id")
        .annotate(
            accepted=Count("pk"),
            measured=Count("model_dice"),
            mean_dice=Avg("model_dice"),
            median_dice=Median("model_dice"),
        )
        .annotate(
            name=Subquery(version.values("name")[:1]),
            version=Subquery(version.values("version")[:1]),
        )
        # Versions in the order they were registered, so the chart reads as a history.
        .order_by("model_version_id")
    )
    return [
        ModelRow(
            model_version_id=row["model_version_id"],
            name=row["name"],
            version=row["version"],
            accepted=row["accepted"],
            measured=row["measured"],
            mean_dice=row["mean_dice"],
            median_dice=row["median_dice"],
        )
        for row in rows
    ]


def _agreement(project: Project) -> Agreement:
    attributes = parse_schema(project.label_schema).attributes
    means = Consensus.objects.filter(project=project).aggregate(
        consensuses=Count("pk"),
        dice=Avg(_json_float("agreement", "mean_pairwise_dice")),
        f1=Avg(_json_float("agreement", "mean_f1")),
        **{
            f"kappa_{i}": Avg(_json_float("agreement", "fleiss_kappa", attribute.name))
            for i, attribute in enumerate(attributes)
        },
    )
    return Agreement(
        consensuses=means["consensuses"],
        mean_pairwise_dice=means["dice"],
        mean_f1=means["f1"],
        kappas=tuple(
            CharacteristicKappa(attribute.name, attribute.label, means[f"kappa_{i}"])
            for i, attribute in enumerate(attributes)
        ),
    )


# --- CSV export --------------------------------------------------------------------------------
class Table(StrEnum):
    STATES = "states"
    SERIES = "series"
    BURNDOWN = "burndown"
    ANNOTATORS = "annotators"
    REVIEWERS = "reviewers"
    MODELS = "models"


@dataclass(frozen=True, slots=True)
class CsvTable:
    header: tuple[str, ...]
    rows: Iterable[tuple[object, ...]]


def table_for_csv(project: Project, table: Table) -> CsvTable:
    """Every row of one dashboard table (not paged), cells as plain values, from the same
    query as the dashboard's table: one query per table."""
    now = timezone.now()
    builders: Mapping[Table, Callable[[], CsvTable]] = {
        Table.STATES: lambda: _states_csv(project),
        Table.SERIES: lambda: CsvTable(
            ("progress", "label", "series"),
            ((row.state, row.label, row.count) for row in _series_by_progress(project)),
        ),
        Table.BURNDOWN: lambda: CsvTable(
            ("day", "created", "accepted", "open"),
            (
                (row.day.isoformat(), row.created, row.accepted, row.open)
                for row in _burndown(project, today=timezone.localdate(now))
            ),
        ),
        Table.ANNOTATORS: lambda: CsvTable(
            (
                "user_id",
                "annotator",
                "assigned",
                "submitted",
                "accepted",
                "sent_to_rework",
                "rework_rate",
                f"submitted_last_{RECENT_DAYS}_days",
                "median_minutes",
            ),
            (
                (
                    row.user_id,
                    row.name,
                    row.assigned,
                    row.submitted,
                    row.accepted,
                    row.reworked,
                    _rounded(row.rework_rate),
                    row.submitted_recently,
                    _rounded(row.median_minutes),
                )
                for row in _annotator_rows(project, now)
            ),
        ),
        Table.REVIEWERS: lambda: CsvTable(
            (
                "user_id",
                "reviewer",
                "reviews",
                "accepted",
                "rework",
                f"reviews_last_{RECENT_DAYS}_days",
                "median_minutes",
            ),
            (
                (
                    row.user_id,
                    row.name,
                    row.reviews,
                    row.accepted,
                    row.rework,
                    row.reviews_recently,
                    _rounded(row.median_minutes),
                )
                for row in _reviewer_rows(project, now)
            ),
        ),
        Table.MODELS: lambda: CsvTable(
            (
                "model_version_id",
                "model",
                "version",
                "accepted_tasks",
                "measured",
                "mean_dice",
                "median_dice",
            ),
            (
                (
                    row.model_version_id,
                    row.name,
                    row.version,
                    row.accepted,
                    row.measured,
                    _rounded(row.mean_dice),
                    _rounded(row.median_dice),
                )
                for row in _model_rows(project)
            ),
        ),
    }
    return builders[table]()


def _states_csv(project: Project) -> CsvTable:
    counts = dict(_tasks(project).values("state").annotate(n=Count("pk")).values_list("state", "n"))
    return CsvTable(
        ("state", "label", "tasks"),
        ((state.value, state.label, counts.get(state.value, 0)) for state in PROGRESS_ORDER),
    )


def _rounded(value: float | None, digits: int = 4) -> float | str:
    return "" if value is None else round(value, digits)
