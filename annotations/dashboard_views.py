"""Pages: the lead's dashboard of a project, and each of its tables as CSV."""

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.models import User
from annotations.dashboard import Dashboard, Pages, Table, TablePage, dashboard_for, table_for_csv
from config.errors import PlatformError
from projects.models import Project
from projects.permissions import Action, require
from projects.selectors import project_for

ROWS_PER_PAGE = 50
# Spreadsheets run a cell that starts with one of these as a formula; user names are free text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class UnknownTable(PlatformError):
    code = "unknown_table"


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required ran first
    return request.user


def _dashboard_project(request: HttpRequest, project_id: int) -> Project:
    """The project, if the user may see its dashboard: 404 for non-members, 403 for members
    who are not leads."""
    user = _user(request)
    project = project_for(user, project_id)
    require(user, Action.VIEW_DASHBOARD, project)
    return project


@dataclass(frozen=True, slots=True)
class Pager:
    """Links to the neighbouring pages of one table, keeping the other tables' pages."""

    page: TablePage[Any]
    previous_url: str | None
    next_url: str | None


@login_required
@require_GET
def dashboard_page(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _dashboard_project(request, project_id)
    dashboard = dashboard_for(
        project,
        page=Pages(
            annotators=_page_number(request.GET, "annotators_page"),
            reviewers=_page_number(request.GET, "reviewers_page"),
            models=_page_number(request.GET, "models_page"),
        ),
        per_page=ROWS_PER_PAGE,
    )
    context = {
        "project": project,
        "dashboard": dashboard,
        "charts": chart_data(dashboard),
        "annotators_pager": _pager(request.GET, "annotators_page", dashboard.annotators),
        "reviewers_pager": _pager(request.GET, "reviewers_page", dashboard.reviewers),
        "models_pager": _pager(request.GET, "models_page", dashboard.models),
    }
    return render(request, "annotations/dashboard.html", context)


@login_required
@require_GET
def dashboard_csv(request: HttpRequest, project_id: int) -> StreamingHttpResponse:
    project = _dashboard_project(request, project_id)
    name = request.GET.get("table", "")
    try:
        table = Table(name)
    except ValueError:
        choices = ", ".join(t.value for t in Table)
        raise UnknownTable(f"table must be one of {choices}, not {name!r}") from None
    rows = table_for_csv(project, table)
    response = StreamingHttpResponse(
        _csv_lines(rows.header, rows.rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{project.slug}-{table.value}.csv"'
    return response


def chart_data(dashboard: Dashboard) -> dict[str, Any]:
    """What the charts draw (read by frontend/src/dashboard/charts.ts): the same figures as the
    tables, so a chart never disagrees with the table under it."""
    return {
        "progress": {
            "labels": [row.label for row in dashboard.series_by_progress],
            "counts": [row.count for row in dashboard.series_by_progress],
        },
        "burndown": {
            "days": [row.day.isoformat() for row in dashboard.burndown],
            "created": [row.created for row in dashboard.burndown],
            "accepted": [row.accepted for row in dashboard.burndown],
            "open": [row.open for row in dashboard.burndown],
        },
        "annotators": {
            "names": [row.name for row in dashboard.annotators.rows],
            "submitted": [row.submitted for row in dashboard.annotators.rows],
            "accepted": [row.accepted for row in dashboard.annotators.rows],
        },
        "models": {
            "labels": [f"{row.name} {row.version}" for row in dashboard.models.rows],
            "mean_dice": [row.mean_dice for row in dashboard.models.rows],
            "median_dice": [row.median_dice for row in dashboard.models.rows],
        },
    }


def _page_number(query: QueryDict, key: str) -> int:
    value = query.get(key, "1")
    return int(value) if value.isdigit() else 1


def _pager(query: QueryDict, key: str, page: TablePage[Any]) -> Pager:
    def url(number: int) -> str:
        params = query.copy()
        params[key] = str(number)
        return f"?{params.urlencode()}"

    return Pager(
        page=page,
        previous_url=url(page.previous_page_number) if page.has_previous else None,
        next_url=url(page.next_page_number) if page.has_next else None,
    )


class _Line:
    """A file-like object whose write() hands back the line, for csv.writer in a generator."""

    def write(self, line: str) -> str:
        return line


def _csv_lines(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_safe_cell(cell) for cell in row])


def _safe_cell(cell: object) -> object:
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell
