"""The lead's dashboard: each figure on a small known project, who may see it, the CSV export,
and a query count that does not grow with the number of tasks."""

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role, User
from annotations.dashboard import DASHBOARD_QUERIES, Dashboard, Pages, dashboard_for
from annotations.models import Consensus, Review, ReviewDecision, Revision, Task, TaskState
from imaging.models import Series
from inference.models import ModelVersion
from projects.models import Project
from tests.factories import MembershipFactory, ProjectFactory, SeriesFactory, UserFactory

# Midnight today: every timestamp below is a whole number of days before it plus a few hours,
# so which day a timestamp falls on does not depend on the hour the tests run.
MIDNIGHT = datetime.combine(timezone.localdate(), time(), tzinfo=timezone.get_current_timezone())


def at(days_ago: int, minutes: float = 0) -> datetime:
    return MIDNIGHT - timedelta(days=days_ago) + timedelta(minutes=minutes)


def day(days_ago: int) -> date:
    return timezone.localdate() - timedelta(days=days_ago)


def dashboard_url(project: Project) -> str:
    return f"/projects/{project.pk}/dashboard/"


def csv_url(project: Project, table: str) -> str:
    return f"/projects/{project.pk}/dashboard.csv?table={table}"


# --- Arranging rows with known timestamps ------------------------------------------------------
def make_task(
    project: Project,
    series: Series,
    *,
    slot: int = 1,
    assignee: User | None,
    state: TaskState,
    created: datetime,
    started: datetime | None = None,
    annotation_minutes: float | None = None,
    review_started: datetime | None = None,
    accepted: datetime | None = None,
    rework_count: int = 0,
) -> Task:
    task = Task.objects.create(
        project=project,
        series=series,
        reader_slot=slot,
        assignee=assignee,
        state=state,
        rework_count=rework_count,
    )
    submitted = (
        started + timedelta(minutes=annotation_minutes)
        if started and annotation_minutes is not None
        else None
    )
    # created_at is auto_now_add: set the milestones afterwards, as they were lived.
    Task.objects.filter(pk=task.pk).update(
        created_at=created,
        started_at=started,
        submitted_at=submitted,
        review_started_at=review_started,
        accepted_at=accepted,
    )
    task.refresh_from_db()
    return task


def make_review(
    task: Task,
    reviewer: User,
    decision: ReviewDecision,
    created: datetime,
    *,
    model: ModelVersion | None = None,
    dice: float | None = None,
) -> Review:
    revision = Revision.objects.create(
        task=task,
        author=task.assignee,
        labelmap=f"labelmaps/{task.pk}.nflm",
        labelmap_sha256="0" * 64,
        labelmap_size=1,
    )
    review = Review.objects.create(
        task=task,
        project_id=task.project_id,
        # The task keeps its latest review start only: earlier reviews have no known start.
        started_at=task.review_started_at
        if task.review_started_at and task.review_started_at <= created
        else None,
        revision=revision,
        reviewer=reviewer,
        decision=decision,
        model_version=model,
        model_dice=dice,
    )
    Review.objects.filter(pk=review.pk).update(created_at=created)
    return review


def make_consensus(project: Project, series: Series, agreement: dict[str, object]) -> Consensus:
    return Consensus.objects.create(
        project=project,
        series=series,
        agreement=agreement,
        proposed_labelmap=f"consensus/{series.pk}.nflm",
    )


@dataclass
class Known:
    """A project whose every dashboard figure is worked out by hand in the comments below."""

    project: Project
    ada: User  # annotator
    ben: User  # annotator
    rita: User  # reviewer
    rolf: User  # reviewer


@pytest.fixture
def known(team) -> Known:
    project = team.project
    ada, rita = team.annotator, team.reviewer
    ada.display_name, rita.display_name = "Ada", "Rita"
    ada.save()
    rita.save()
    ben = MembershipFactory.create(
        project=project, role=Role.ANNOTATOR, user__display_name="Ben"
    ).user
    rolf = MembershipFactory.create(
        project=project, role=Role.REVIEWER, user__display_name="Rolf"
    ).user
    unet1 = ModelVersion.objects.create(
        project=project, name="unet", version="1", architecture="unet3d"
    )
    unet2 = ModelVersion.objects.create(
        project=project, name="unet", version="2", architecture="unet3d"
    )
    s = {n: SeriesFactory.create(project=project) for n in range(1, 9)}  # s6 gets no task

    # s1: two readers; Ada's read accepted, Ben's in review -> the series is in review.
    t1 = make_task(project, s[1], assignee=ada, state=TaskState.ACCEPTED, created=at(10),
                   started=at(10), annotation_minutes=30, review_started=at(10, 90),
                   accepted=at(10, 100))  # fmt: skip
    make_review(t1, rita, ReviewDecision.ACCEPTED, at(10, 100), model=unet1, dice=0.5)
    make_task(project, s[1], slot=2, assignee=ben, state=TaskState.IN_REVIEW, created=at(10),
              started=at(10), annotation_minutes=60, review_started=at(10, 120))  # fmt: skip
    # s2: Ada's read sent back once.
    t3 = make_task(project, s[2], assignee=ada, state=TaskState.REWORK, created=at(9),
                   started=at(9), annotation_minutes=90, review_started=at(9, 100),
                   rework_count=1)  # fmt: skip
    make_review(t3, rita, ReviewDecision.REWORK, at(9, 120))
    # s3: Ben's read sent back by Rita, resubmitted, then accepted by Rolf. The first review's
    # start is no longer known: only the second counts in the review times.
    t4 = make_task(project, s[3], assignee=ben, state=TaskState.ACCEPTED, created=at(9),
                   started=at(8), annotation_minutes=120, review_started=at(6),
                   accepted=at(6, 5), rework_count=1)  # fmt: skip
    make_review(t4, rita, ReviewDecision.REWORK, at(8, 60))
    make_review(t4, rolf, ReviewDecision.ACCEPTED, at(6, 5), model=unet1, dice=0.6)
    # s4: new; s5: in progress (never submitted, so no annotation time).
    make_task(project, s[4], assignee=ada, state=TaskState.NEW, created=at(2))
    make_task(project, s[5], assignee=ada, state=TaskState.IN_PROGRESS, created=at(2),
              started=at(1))  # fmt: skip
    # s7, s8: accepted, from each model version.
    t7 = make_task(project, s[7], assignee=ben, state=TaskState.ACCEPTED, created=at(5),
                   started=at(5), annotation_minutes=45, review_started=at(5, 60),
                   accepted=at(5, 75))  # fmt: skip
    make_review(t7, rolf, ReviewDecision.ACCEPTED, at(5, 75), model=unet1, dice=1.0)
    t8 = make_task(project, s[8], assignee=ada, state=TaskState.ACCEPTED, created=at(5),
                   started=at(5), annotation_minutes=15, review_started=at(4),
                   accepted=at(4, 30))  # fmt: skip
    make_review(t8, rita, ReviewDecision.ACCEPTED, at(4, 30), model=unet2, dice=0.9)

    kappas = {"subtlety": 0.5, "malignancy": None}
    make_consensus(
        project, s[1], {"mean_pairwise_dice": 0.8, "mean_f1": 1.0, "fleiss_kappa": kappas}
    )
    kappas = {"subtlety": 0.1, "malignancy": 0.4}
    make_consensus(
        project, s[3], {"mean_pairwise_dice": 0.6, "mean_f1": None, "fleiss_kappa": kappas}
    )
    return Known(project=project, ada=ada, ben=ben, rita=rita, rolf=rolf)


@pytest.fixture
def board(known: Known) -> Dashboard:
    return dashboard_for(known.project)


# --- Each figure -------------------------------------------------------------------------------
def test_tasks_are_counted_by_state(board):
    assert {row.state: row.count for row in board.tasks_by_state} == {
        "new": 1,
        "in_progress": 1,
        "rework": 1,
        "submitted": 0,
        "in_review": 1,
        "accepted": 4,
    }


def test_a_series_is_as_far_along_as_its_least_advanced_task(board):
    assert [(row.state, row.count) for row in board.series_by_progress] == [
        ("no_task", 1),
        ("new", 1),
        ("in_progress", 1),
        ("rework", 1),
        ("submitted", 0),
        ("in_review", 1),  # s1: one read accepted, the other in review
        ("accepted", 3),
    ]
    assert board.overall.series == 8


def test_overall_median_time_and_rework_rate(board):
    overall = board.overall
    assert overall.tasks == 8
    # Submitted tasks took 15, 30, 45, 60, 90 and 120 minutes from first save to last submit.
    assert overall.median_task_minutes == pytest.approx(52.5)
    assert (overall.submitted, overall.reworked) == (6, 2)
    assert overall.rework_rate == pytest.approx(1 / 3)
    # Review times with a known start: 10, 20, 30 (Rita), 5, 15 (Rolf).
    assert overall.median_review_minutes == pytest.approx(15)


def test_annotators_have_their_throughput_rework_and_median_time(board):
    ada, ben = board.annotators.rows
    assert (ada.name, ada.assigned, ada.submitted, ada.accepted, ada.reworked) == (
        "Ada", 5, 3, 2, 1,
    )  # fmt: skip
    assert ada.rework_rate == pytest.approx(1 / 3)
    assert ada.median_minutes == pytest.approx(30)  # 15, 30, 90
    assert ada.submitted_recently == 1  # only s8's read falls in the last 7 days
    assert (ben.name, ben.assigned, ben.submitted, ben.accepted, ben.reworked) == (
        "Ben", 3, 3, 2, 1,
    )  # fmt: skip
    assert ben.median_minutes == pytest.approx(60)  # 45, 60, 120
    assert ben.submitted_recently == 1


def test_reviewers_have_their_decisions_and_median_review_time(board):
    rita, rolf = board.reviewers.rows
    assert (rita.name, rita.reviews, rita.accepted, rita.rework) == ("Rita", 4, 2, 2)
    assert rita.median_minutes == pytest.approx(20)  # 10, 20, 30; the unknown start left out
    assert rita.reviews_recently == 1
    assert (rolf.name, rolf.reviews, rolf.accepted, rolf.rework) == ("Rolf", 2, 2, 0)
    assert rolf.median_minutes == pytest.approx(10)  # 5, 15
    assert rolf.reviews_recently == 2


def test_model_correction_effort_is_the_dice_per_model_version(board):
    unet1, unet2 = board.models.rows
    assert (unet1.name, unet1.version, unet1.accepted, unet1.measured) == ("unet", "1", 3, 3)
    assert unet1.mean_dice == pytest.approx(0.7)  # 0.5, 0.6, 1.0
    assert unet1.median_dice == pytest.approx(0.6)
    assert (unet2.version, unet2.accepted) == ("2", 1)
    assert unet2.mean_dice == unet2.median_dice == pytest.approx(0.9)


def test_agreement_is_the_mean_over_consensuses_ignoring_missing_figures(board):
    agreement = board.agreement
    assert agreement.consensuses == 2
    assert agreement.mean_pairwise_dice == pytest.approx(0.7)
    assert agreement.mean_f1 == pytest.approx(1.0)
    kappas = {kappa.name: kappa.mean_kappa for kappa in agreement.kappas}
    assert kappas["subtlety"] == pytest.approx(0.3)
    assert kappas["malignancy"] == pytest.approx(0.4)
    assert kappas["margin"] is None
    assert len(kappas) == 9  # one per characteristic of the project's schema


def test_burndown_counts_created_and_accepted_tasks_day_by_day(board):
    rows = {row.day: (row.created, row.accepted, row.open) for row in board.burndown}
    assert min(rows) == day(10)  # the first task, older than the project row
    assert max(rows) == day(0)
    assert len(rows) == 11  # every day, also those when nothing happened
    assert rows[day(10)] == (2, 1, 1)
    assert rows[day(9)] == (4, 1, 3)
    assert rows[day(7)] == (4, 1, 3)
    assert rows[day(6)] == (4, 2, 2)
    assert rows[day(5)] == (6, 3, 3)
    assert rows[day(4)] == (6, 4, 2)
    assert rows[day(0)] == (8, 4, 4)


def test_burndown_keeps_the_last_365_days_and_carries_older_tasks(team):
    series = SeriesFactory.create(project=team.project)
    make_task(team.project, series, assignee=None, state=TaskState.NEW, created=at(400))
    board = dashboard_for(team.project)
    assert len(board.burndown) == 365
    first = board.burndown[0]
    assert first.day == day(364)
    assert (first.created, first.accepted, first.open) == (1, 0, 1)


def test_reopened_work_leaves_the_accepted_line(team):
    series = SeriesFactory.create(project=team.project)
    # A lead sent accepted work back: accepted_at is cleared, the task is open again.
    make_task(team.project, series, assignee=team.annotator, state=TaskState.REWORK,
              created=at(3), started=at(3), annotation_minutes=10, rework_count=1)  # fmt: skip
    assert (board := dashboard_for(team.project)).burndown[-1].open == 1
    assert board.overall.rework_rate == 1.0


def test_a_project_without_tasks_has_empty_figures(team):
    board = dashboard_for(team.project)
    assert board.is_empty
    assert board.burndown == ()
    assert board.overall.median_task_minutes is None
    assert board.overall.rework_rate is None
    assert board.annotators.rows == board.reviewers.rows == board.models.rows == ()
    assert board.agreement.mean_pairwise_dice is None


def test_tables_are_paged(known):
    board = dashboard_for(known.project, page=2, per_page=1)
    assert [row.name for row in board.annotators.rows] == ["Ben"]
    assert (board.annotators.number, board.annotators.num_pages) == (2, 2)
    assert board.annotators.has_previous and not board.annotators.has_next
    assert [row.version for row in board.models.rows] == ["2"]
    board = dashboard_for(known.project, page=Pages(annotators=9, reviewers=1), per_page=1)
    assert board.annotators.number == 2  # past the end: the last page
    assert [row.name for row in board.reviewers.rows] == ["Rita"]


# --- The page and who may see it ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "status"),
    [("lead", 200), ("admin", 200), ("annotator", 403), ("reviewer", 403), ("outsider", 404)],
)
def test_only_leads_and_site_admins_see_the_dashboard(client, team, who, status):
    client.force_login(team.by_name(who))
    for url in (dashboard_url(team.project), csv_url(team.project, "states")):
        response = client.get(url)
        assert response.status_code == status, url
    if status == 403:
        assert "only lead or site admin may see the project&#x27;s dashboard" in (
            response.content.decode()
        )


def test_anonymous_users_are_sent_to_sign_in(client, team):
    for url in (dashboard_url(team.project), csv_url(team.project, "states")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_dashboard_page_shows_the_figures_charts_and_csv_links(client, known, team):
    client.force_login(team.lead)
    page = client.get(dashboard_url(known.project)).content.decode()
    assert "52.5" in page  # median minutes per task
    assert "33 %" in page  # rework rate
    assert "<td>Ada</td><td>5</td><td>3</td>" in page
    assert 'id="dashboard-data"' in page
    assert 'data-chart="burndown"' in page
    assert f"/projects/{known.project.pk}/dashboard.csv?table=annotators" in page
    assert "/static/assets/dashboard-" in page  # the Vite entry with Chart.js


def test_dashboard_of_a_project_without_tasks_says_so(client, team):
    client.force_login(team.lead)
    page = client.get(dashboard_url(team.project)).content.decode()
    assert "This project has no tasks yet" in page
    assert "<canvas" not in page


def test_dashboard_page_links_to_the_next_page_of_a_table_keeping_the_others(
    client, known, team, monkeypatch
):
    monkeypatch.setattr("annotations.dashboard_views.ROWS_PER_PAGE", 1)
    client.force_login(team.lead)
    page = client.get(dashboard_url(known.project), {"reviewers_page": 2}).content.decode()
    assert "<td>Rolf</td>" in page and "<td>Rita</td>" not in page
    assert "?reviewers_page=2&amp;annotators_page=2" in page


# --- CSV ---------------------------------------------------------------------------------------
def read_csv(client, project: Project, table: str) -> list[list[str]]:
    response = client.get(csv_url(project, table))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (f'attachment; filename="{project.slug}-{table}.csv"')
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_csv_export_has_every_row_of_each_table(client, known, team, monkeypatch):
    monkeypatch.setattr("annotations.dashboard_views.ROWS_PER_PAGE", 1)  # CSVs are not paged
    client.force_login(team.lead)
    project = known.project
    assert read_csv(client, project, "annotators") == [
        ["user_id", "annotator", "assigned", "submitted", "accepted", "sent_to_rework",
         "rework_rate", "submitted_last_7_days", "median_minutes"],
        [str(known.ada.pk), "Ada", "5", "3", "2", "1", "0.3333", "1", "30.0"],
        [str(known.ben.pk), "Ben", "3", "3", "2", "1", "0.3333", "1", "60.0"],
    ]  # fmt: skip
    assert read_csv(client, project, "reviewers")[1:] == [
        [str(known.rita.pk), "Rita", "4", "2", "2", "1", "20.0"],
        [str(known.rolf.pk), "Rolf", "2", "2", "0", "2", "10.0"],
    ]
    models = read_csv(client, project, "models")
    assert [row[1:] for row in models[1:]] == [
        ["unet", "1", "3", "3", "0.7", "0.6"],
        ["unet", "2", "1", "1", "0.9", "0.9"],
    ]
    assert read_csv(client, project, "states")[1:] == [
        ["new", "New", "1"], ["in_progress", "In progress", "1"], ["rework", "Rework", "1"],
        ["submitted", "Submitted", "0"], ["in_review", "In review", "1"],
        ["accepted", "Accepted", "4"],
    ]  # fmt: skip
    assert read_csv(client, project, "series")[1] == ["no_task", "No task", "1"]
    burndown = read_csv(client, project, "burndown")
    assert burndown[0] == ["day", "created", "accepted", "open"]
    assert burndown[1] == [day(10).isoformat(), "2", "1", "1"]
    assert burndown[-1] == [day(0).isoformat(), "8", "4", "4"]


def test_csv_cells_cannot_run_as_spreadsheet_formulas(client, known, team):
    known.ada.display_name = "=HYPERLINK(1)"
    known.ada.save()
    client.force_login(team.lead)
    assert read_csv(client, known.project, "annotators")[1][1] == "'=HYPERLINK(1)"


def test_csv_of_an_unknown_table_is_a_readable_400(client, team):
    client.force_login(team.lead)
    response = client.get(csv_url(team.project, "patients"))
    assert response.status_code == 400
    assert "table must be one of states, series, burndown" in response.content.decode()


# --- Queries -----------------------------------------------------------------------------------
def add_work(project: Project, *, series: int, readers: int, reviewers: int) -> None:
    """`series` series with one task per reader in every state, reviews and consensus rows."""
    annotators = [
        MembershipFactory.create(project=project, role=Role.ANNOTATOR).user for _ in range(readers)
    ]
    checkers = [
        MembershipFactory.create(project=project, role=Role.REVIEWER).user for _ in range(reviewers)
    ]
    model = ModelVersion.objects.create(
        project=project, name="unet", version=f"v{ModelVersion.objects.count()}",
        architecture="unet3d",
    )  # fmt: skip
    states = list(TaskState)
    for n in range(series):
        one = SeriesFactory.create(project=project)
        for slot, annotator in enumerate(annotators, start=1):
            state = states[(n + slot) % len(states)]
            task = make_task(project, one, slot=slot, assignee=annotator, state=state,
                             created=at(n % 30), started=at(n % 30), annotation_minutes=n + 1,
                             review_started=at(n % 30, 100),
                             accepted=at(n % 30, 120) if state == TaskState.ACCEPTED else None,
                             rework_count=n % 2)  # fmt: skip
            if state == TaskState.ACCEPTED:
                make_review(task, checkers[n % len(checkers)], ReviewDecision.ACCEPTED,
                            at(n % 30, 120), model=model, dice=0.5)  # fmt: skip
        make_consensus(project, one, {"mean_pairwise_dice": 0.5, "fleiss_kappa": {"margin": 0.2}})


def queries_of(action) -> int:
    with CaptureQueriesContext(connection) as queries:
        action()
    return len(queries)


def test_dashboard_query_count_does_not_grow_with_tasks(client, team):
    add_work(team.project, series=3, readers=2, reviewers=1)
    client.force_login(team.lead)
    url = dashboard_url(team.project)
    assert queries_of(lambda: dashboard_for(team.project)) == DASHBOARD_QUERIES
    page_queries = queries_of(lambda: client.get(url))
    small = (Task.objects.count(), page_queries)

    add_work(team.project, series=9, readers=3, reviewers=3)  # 3x the tasks, more people
    assert Task.objects.count() >= 3 * small[0]
    assert queries_of(lambda: dashboard_for(team.project)) == DASHBOARD_QUERIES
    assert queries_of(lambda: client.get(url)) == page_queries
    # session, user, project, roles, then the dashboard's own queries
    assert page_queries == DASHBOARD_QUERIES + 4


def test_each_csv_table_costs_one_query_whatever_the_number_of_tasks(client, team):
    client.force_login(team.lead)

    def export(table: str) -> None:
        b"".join(client.get(csv_url(team.project, table)).streaming_content)

    for series in (2, 6):
        add_work(team.project, series=series, readers=2, reviewers=2)
        for table in ("states", "series", "annotators", "reviewers", "models"):
            assert queries_of(lambda table=table: export(table)) == 4 + 1, table
        assert queries_of(lambda: export("burndown")) == 4 + 2  # created and accepted per day


def test_a_project_sees_only_its_own_figures(known):
    other = ProjectFactory.create()
    lead = UserFactory.create()
    MembershipFactory.create(project=other, user=lead, role=Role.LEAD)
    add_work(other, series=2, readers=1, reviewers=1)
    board = dashboard_for(known.project)
    assert board.overall.tasks == 8
    assert [row.name for row in board.annotators.rows] == ["Ada", "Ben"]
    assert len(board.models.rows) == 2
    assert board.agreement.consensuses == 2
