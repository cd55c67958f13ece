"""The labeling workflow: task creation and assignment, the state machine, review and audit."""

import itertools

import pytest

from accounts.models import Role
from annotations import services
from annotations.errors import TransitionRefused
from annotations.models import Review, Revision, Task, TaskState
from annotations.states import TRANSITIONS, Actor, check_transition
from config.errors import Conflict, Forbidden
from projects.models import Assignment, AuditEvent
from tests.factories import MembershipFactory, SeriesFactory, UserFactory

ALL_ACTOR_SETS = [
    set(combo) for n in range(len(Actor) + 1) for combo in itertools.combinations(Actor, n)
]


@pytest.mark.parametrize("current", TaskState.values)
@pytest.mark.parametrize("target", TaskState.values)
def test_the_state_machine_allows_exactly_the_moves_in_its_table(current, target):
    allowed = TRANSITIONS.get((TaskState(current), TaskState(target)))
    for actors in ALL_ACTOR_SETS:
        if allowed is None:
            with pytest.raises(TransitionRefused, match="a task cannot go from"):
                check_transition(current, TaskState(target), actors)
        elif allowed & actors:
            check_transition(current, TaskState(target), actors)
        else:
            with pytest.raises(Forbidden, match=r"only .* may move this task"):
                check_transition(current, TaskState(target), actors)


def annotators(project, n):
    return [MembershipFactory.create(project=project, role=Role.ANNOTATOR).user for _ in range(n)]


def test_round_robin_gives_each_series_distinct_readers_in_turn(team):
    readers = [team.annotator, *annotators(team.project, 2)]
    series = [SeriesFactory.create(project=team.project) for _ in range(3)]
    tasks = services.create_tasks(
        project=team.project, series_ids=[s.pk for s in series], by=team.lead, readers=2,
        assignment=Assignment.ROUND_ROBIN, priority=3,
    )  # fmt: skip
    assert len(tasks) == 6
    for s in series:
        slots = Task.objects.filter(series=s).order_by("reader_slot")
        assert [t.reader_slot for t in slots] == [1, 2]
        assert len({t.assignee_id for t in slots}) == 2
    counts = [Task.objects.filter(assignee=r).count() for r in readers]
    assert counts == [2, 2, 2]
    assert {t.priority for t in tasks} == {3}
    assert AuditEvent.objects.filter(action="task.created").count() == 6


def test_least_loaded_assignment_fills_the_emptiest_queue_first(team):
    busy, idle = team.annotator, annotators(team.project, 1)[0]
    for _ in range(3):
        services.create_task(series=SeriesFactory.create(project=team.project), assignee=busy)
    series = [SeriesFactory.create(project=team.project) for _ in range(4)]
    services.create_tasks(
        project=team.project, series_ids=[s.pk for s in series], by=team.lead,
        readers=1, assignment=Assignment.LEAST_LOADED,
    )  # fmt: skip
    assert Task.objects.filter(assignee=idle).count() == 3  # 0 -> 3 catches up with busy
    assert Task.objects.filter(assignee=busy).count() == 4


def test_manual_assignment_leaves_slots_open_until_the_lead_names_a_reader(team):
    series = SeriesFactory.create(project=team.project)
    (task,) = services.create_tasks(
        project=team.project, series_ids=[series.pk], by=team.lead, assignment=Assignment.MANUAL
    )
    assert task.assignee is None
    services.assign_task(task=task, assignee=team.annotator, by=team.lead)
    task.refresh_from_db()
    assert task.assignee == team.annotator
    event = AuditEvent.objects.get(action="task.assigned")
    assert event.actor == team.lead
    assert event.before["assignee_id"] is None and event.after["assignee_id"] == team.annotator.pk


def test_a_reader_never_gets_two_slots_of_the_same_series(team):
    series = SeriesFactory.create(project=team.project)
    services.create_task(series=series, assignee=team.annotator)
    with pytest.raises(Conflict, match="already reads"):
        services.create_task(series=series, assignee=team.annotator, reader_slot=2)
    other = services.create_task(series=series, reader_slot=2)
    with pytest.raises(Conflict, match="already reads this series"):
        services.assign_task(task=other, assignee=team.annotator, by=team.lead)
    assert Task.objects.filter(series=series, assignee=team.annotator).count() == 1


def test_more_readers_than_annotators_is_refused_and_nothing_is_created(team):
    series = [SeriesFactory.create(project=team.project) for _ in range(2)]
    with pytest.raises(
        Conflict, match=r"3 independent reader.* need 3 annotators; the project has 1"
    ):
        services.create_tasks(
            project=team.project, series_ids=[s.pk for s in series], by=team.lead, readers=3
        )
    assert (
        Task.objects.count() == 0 and AuditEvent.objects.filter(action="task.created").count() == 0
    )


def test_creating_tasks_again_fills_only_the_missing_slots(team):
    annotators(team.project, 1)
    series = SeriesFactory.create(project=team.project)
    services.create_tasks(project=team.project, series_ids=[series.pk], by=team.lead, readers=1)
    made = services.create_tasks(
        project=team.project, series_ids=[series.pk], by=team.lead, readers=2
    )
    assert [t.reader_slot for t in made] == [2]
    assert (
        services.create_tasks(project=team.project, series_ids=[series.pk], by=team.lead, readers=2)
        == []
    )


def test_new_series_get_tasks_when_the_project_asks(team):
    from imaging.signals import series_ready

    team.project.tasks_on_ingest = True
    team.project.readers_per_series = 1
    team.project.save()
    series = SeriesFactory.create(project=team.project, fit_for_3d=True)
    series_ready.send(sender=None, series_id=series.pk)
    task = Task.objects.get(series=series)
    assert task.assignee == team.annotator
    team.project.tasks_on_ingest = False
    team.project.save()
    quiet = SeriesFactory.create(project=team.project, fit_for_3d=True)
    series_ready.send(sender=None, series_id=quiet.pk)
    assert not Task.objects.filter(series=quiet).exists()


# --- review through the API ------------------------------------------------------------------


def submitted(team, findings=None):
    """A task with one revision (rows only: review decisions never read the voxels)."""
    task = services.create_task(
        series=SeriesFactory.create(project=team.project), assignee=team.annotator
    )
    revision = Revision.objects.create(
        task=task, author=team.annotator, labelmap="labelmaps/none.nflm", labelmap_sha256="0" * 64,
        labelmap_size=1, findings=findings or [{"id": "n1", "segment": 1}],
    )  # fmt: skip
    Task.objects.filter(pk=task.pk).update(latest_revision=revision, state=TaskState.SUBMITTED)
    task.refresh_from_db()
    return task


def url(task, action):
    return f"/api/annotations/tasks/{task.pk}/{action}/"


def test_reviewer_takes_comments_and_sends_to_rework_then_accepts(team, api):
    task = submitted(team)
    reviewer = api(team.reviewer)
    started = reviewer.post(url(task, "review"))
    assert started.status_code == 200, started.json()
    assert (
        started.json()["mode"] == "review" and started.json()["reviewer"] == team.reviewer.username
    )
    body = {
        "comment": "Margins too tight",
        "finding_comments": [{"finding_id": "n1", "text": "extend"}],
    }
    sent = reviewer.post(url(task, "rework"), body, format="json")
    assert sent.status_code == 200
    assert sent.json()["state"] == TaskState.REWORK
    annotator_view = api(team.annotator).get(f"/api/annotations/tasks/{task.pk}/").json()
    assert annotator_view["reviews"][0]["finding_comments"] == [
        {"finding_id": "n1", "text": "extend"}
    ]
    assert annotator_view["rework_count"] == 1
    Task.objects.filter(pk=task.pk).update(state=TaskState.SUBMITTED)
    reviewer.post(url(task, "review"))
    accepted = reviewer.post(url(task, "accept"), {"comment": "good"}, format="json")
    assert accepted.json()["state"] == TaskState.ACCEPTED
    task.refresh_from_db()
    assert task.accepted_at is not None and task.review_started_at is not None
    assert list(Review.objects.values_list("decision", flat=True)) == ["rework", "accepted"]
    last = Review.objects.last()
    assert last.project_id == task.project_id and last.started_at == task.review_started_at
    actions = list(AuditEvent.objects.filter(target_type="task", target_id=task.pk)
                   .values_list("action", flat=True))  # fmt: skip
    assert actions == [
        "task.created",
        "task.in_review",
        "task.rework",
        "task.in_review",
        "task.accepted",
    ]


def test_rework_without_any_comment_is_refused_and_nothing_changes(team, api):
    task = submitted(team)
    reviewer = api(team.reviewer)
    reviewer.post(url(task, "review"))
    response = reviewer.post(url(task, "rework"), {}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("say what needs rework")
    task.refresh_from_db()
    assert task.state == TaskState.IN_REVIEW and Review.objects.count() == 0


def test_a_comment_on_a_finding_the_revision_lacks_is_refused(team, api):
    task = submitted(team)
    reviewer = api(team.reviewer)
    reviewer.post(url(task, "review"))
    body = {"finding_comments": [{"finding_id": "ghost", "text": "?"}]}
    response = reviewer.post(url(task, "rework"), body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "the reviewed revision has no finding 'ghost'"


def test_a_reviewer_may_not_review_their_own_reading(team, api):
    MembershipFactory.create(project=team.project, user=team.annotator, role=Role.REVIEWER)
    task = submitted(team)
    response = api(team.annotator).post(url(task, "review"))
    assert response.status_code == 403
    assert response.json()["detail"] == "only a reviewer may move this task to in review"


def test_a_task_in_review_belongs_to_the_reviewer_holding_it(team, api):
    second = MembershipFactory.create(project=team.project, role=Role.REVIEWER).user
    task = submitted(team)
    api(team.reviewer).post(url(task, "review"))
    response = api(second).post(url(task, "accept"), {}, format="json")
    assert response.status_code == 403
    released = api(team.lead).post(url(task, "release"))
    assert released.json()["state"] == TaskState.SUBMITTED
    assert api(second).post(url(task, "review")).status_code == 200


def test_accepting_a_task_not_in_review_is_a_conflict(team, api):
    task = submitted(team)
    response = api(team.reviewer).post(url(task, "accept"), {}, format="json")
    assert response.status_code == 409
    assert response.json()["detail"] == "a task cannot go from submitted to accepted"


def test_a_lead_reopens_accepted_work_with_a_reason(team, api):
    task = submitted(team)
    api(team.reviewer).post(url(task, "review"))
    api(team.reviewer).post(url(task, "accept"), {}, format="json")
    refused = api(team.lead).post(url(task, "reopen"), {"comment": ""}, format="json")
    assert refused.status_code == 400
    reopened = api(team.lead).post(url(task, "reopen"), {"comment": "wrong nodule"}, format="json")
    assert reopened.json()["state"] == TaskState.REWORK


def test_next_task_for_a_reviewer_is_the_most_urgent_submitted_task(team, api):
    low, high = submitted(team), submitted(team)
    Task.objects.filter(pk=high.pk).update(priority=9)
    assert api(team.reviewer).get("/api/annotations/tasks/next/").json()["id"] == high.pk
    assert api(team.annotator).get("/api/annotations/tasks/next/").status_code == 204
    api(team.reviewer).post(url(high, "review"))  # held in review: still theirs to finish
    assert api(team.reviewer).get("/api/annotations/tasks/next/").json()["id"] == high.pk
    second = MembershipFactory.create(project=team.project, role=Role.REVIEWER).user
    assert api(second).get("/api/annotations/tasks/next/").json()["id"] == low.pk


def test_history_lists_every_event_of_the_task(team, api):
    task = submitted(team)
    api(team.reviewer).post(url(task, "review"))
    history = api(team.reviewer).get(url(task, "history")).json()
    assert [e["action"] for e in history["events"]] == ["task.in_review", "task.created"]
    assert history["revisions"][0]["id"] == task.latest_revision_id


def test_lead_creates_tasks_from_a_study_selection_over_the_api(team, api):
    series = SeriesFactory.create(project=team.project)
    body = {"study_ids": [series.study_id], "priority": 2, "due_date": "2026-12-31"}
    response = api(team.lead).post(
        f"/api/annotations/projects/{team.project.pk}/tasks/", body, format="json"
    )
    assert response.status_code == 201, response.json()
    (row,) = response.json()
    assert row["assignee"] == team.annotator.username and row["due_date"] == "2026-12-31"
    listed = api(team.reviewer).get(f"/api/annotations/projects/{team.project.pk}/tasks/").json()
    assert listed["count"] == 1


def test_only_leads_create_tasks(team, api):
    series = SeriesFactory.create(project=team.project)
    path = f"/api/annotations/projects/{team.project.pk}/tasks/"
    for user, status in ((team.annotator, 403), (team.reviewer, 403), (team.outsider, 404)):
        assert (
            api(user).post(path, {"series_ids": [series.pk]}, format="json").status_code == status
        )
    assert Task.objects.count() == 0


def test_membership_changes_are_audited(team, api):
    newcomer = UserFactory.create()
    api(team.lead).post(
        f"/api/projects/{team.project.pk}/members/",
        {"username": newcomer.username, "role": "annotator"},
        format="json",
    )
    api(team.lead).delete(f"/api/projects/{team.project.pk}/members/{newcomer.pk}/annotator/")
    actions = list(AuditEvent.objects.filter(project=team.project).values_list("action", "actor"))
    assert actions[-2:] == [
        ("membership.added", team.lead.pk),
        ("membership.removed", team.lead.pk),
    ]


# --- permission matrix: every role against every workflow endpoint ---------------------------

ROLES = ("anonymous", "outsider", "annotator", "reviewer", "lead", "admin")


def _in_state(team, state):
    task = submitted(team)
    reviewer = team.reviewer if state in (TaskState.IN_REVIEW, TaskState.ACCEPTED) else None
    Task.objects.filter(pk=task.pk).update(state=state, reviewer=reviewer)
    return task


LEADS = (401, 404, 403, 403, 200, 200)
HOLDER = (401, 404, 403, 200, 403, 403)  # only the reviewer holding the task
MATRIX = {
    # name: (method, path, body, task state, expected status per role in ROLES order)
    "task detail": ("get", "", None, TaskState.SUBMITTED, (401, 404, 200, 200, 200, 200)),
    "history": ("get", "history/", None, TaskState.SUBMITTED, (401, 404, 200, 200, 200, 200)),
    "change": ("patch", "", {"priority": 5}, TaskState.NEW, (401, 404, 403, 403, 200, 200)),
    "submit": ("post", "submit/", None, TaskState.IN_PROGRESS, (401, 404, 200, 403, 403, 403)),
    "review": ("post", "review/", None, TaskState.SUBMITTED, (401, 404, 403, 200, 403, 403)),
    "accept": ("post", "accept/", {}, TaskState.IN_REVIEW, (401, 404, 403, 200, 403, 403)),
    "rework": ("post", "rework/", {"comment": "x"}, TaskState.IN_REVIEW, HOLDER),
    "release": ("post", "release/", None, TaskState.IN_REVIEW, (401, 404, 403, 200, 200, 200)),
    "reopen": ("post", "reopen/", {"comment": "x"}, TaskState.ACCEPTED, LEADS),
}  # fmt: skip


@pytest.mark.parametrize("endpoint", MATRIX)
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix_of_task_endpoints(team, api, endpoint, role):
    method, path, body, state, expected = MATRIX[endpoint]
    task = _in_state(team, state)
    before = Task.objects.values("state", "priority", "reviewer_id").get(pk=task.pk)
    response = getattr(api(team.by_name(role)), method)(
        f"/api/annotations/tasks/{task.pk}/{path}", body, format="json"
    )
    status = expected[ROLES.index(role)]
    assert response.status_code == status, response.content
    if status >= 400:
        assert response.json()["detail"]
        assert Task.objects.values("state", "priority", "reviewer_id").get(pk=task.pk) == before


@pytest.mark.parametrize(
    ("role", "listed", "created"),
    [("anonymous", 401, 401), ("outsider", 404, 404), ("annotator", 200, 403),
     ("reviewer", 200, 403), ("lead", 200, 201), ("admin", 200, 201)],
)  # fmt: skip
def test_permission_matrix_of_project_task_endpoints(team, api, role, listed, created):
    series = SeriesFactory.create(project=team.project)
    client = api(team.by_name(role))
    path = f"/api/annotations/projects/{team.project.pk}/tasks/"
    assert client.get(path).status_code == listed
    assert client.post(path, {"series_ids": [series.pk]}, format="json").status_code == created


def test_annotators_list_only_their_own_tasks_blind_to_other_readers(team, api):
    other = annotators(team.project, 1)[0]
    series = SeriesFactory.create(project=team.project)
    services.create_tasks(project=team.project, series_ids=[series.pk], by=team.lead, readers=2)
    mine = api(team.annotator).get(f"/api/annotations/projects/{team.project.pk}/tasks/").json()
    assert [row["assignee"] for row in mine["results"]] == [team.annotator.username]
    theirs = Task.objects.get(assignee=other)
    assert api(team.annotator).get(f"/api/annotations/tasks/{theirs.pk}/").status_code == 404


# --- pages -------------------------------------------------------------------------------------


def test_lead_creates_assigns_and_configures_from_the_task_page(team, client):
    series = SeriesFactory.create(project=team.project)
    client.force_login(team.lead)
    base = f"/projects/{team.project.pk}/tasks/"
    assert "Create tasks" in client.get(base).content.decode()
    form = {"studies": [series.study_id], "readers": 1, "priority": 1, "assignment": "manual"}
    assert client.post(base + "create/", form).status_code == 302
    task = Task.objects.get()
    assert task.assignee is None
    client.post(base + f"{task.pk}/assign/", {"assignee": team.annotator.username})
    task.refresh_from_db()
    assert task.assignee == team.annotator
    page = client.get(base).content.decode()
    assert f'data-task-id="{task.pk}"' in page
    too_many = client.post(base + "create/", form | {"readers": 3, "assignment": "round_robin"})
    assert too_many.status_code == 400
    assert "3 independent reader(s) per series need 3 annotators" in too_many.content.decode()
    saved = client.post(
        f"/projects/{team.project.pk}/workflow/",
        {"readers_per_series": 2, "assignment": "least_loaded", "tasks_on_ingest": "on"},
    )
    assert saved.status_code == 302
    team.project.refresh_from_db()
    assert team.project.readers_per_series == 2 and team.project.tasks_on_ingest


def test_annotators_see_the_task_list_without_lead_forms(team, client):
    client.force_login(team.annotator)
    page = client.get(f"/projects/{team.project.pk}/tasks/").content.decode()
    assert "Create tasks" not in page
    form = {"studies": [], "readers": 1, "priority": 0, "assignment": "manual"}
    assert client.post(f"/projects/{team.project.pk}/tasks/create/", form).status_code == 403
    client.force_login(team.outsider)
    assert client.get(f"/projects/{team.project.pk}/tasks/").status_code == 404


def test_revisions_reviews_and_audit_events_are_read_only_in_the_admin(team, client):
    task = submitted(team)
    client.force_login(team.admin)
    revision = task.latest_revision_id
    assert client.get("/admin/annotations/revision/").status_code == 200
    assert client.get(f"/admin/annotations/revision/{revision}/delete/").status_code == 403
    assert (
        client.post(f"/admin/annotations/revision/{revision}/delete/", {"post": "yes"}).status_code
        == 403
    )
    event = AuditEvent.objects.first()
    assert client.get("/admin/projects/auditevent/").status_code == 200
    assert client.get(f"/admin/projects/auditevent/{event.pk}/delete/").status_code == 403
    assert Revision.objects.filter(pk=revision).exists()
