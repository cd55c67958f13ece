"""Each role by each API endpoint so far: who gets what status."""

import pytest

from accounts.models import Role

ROLES = ("anonymous", "outsider", "annotator", "reviewer", "lead", "admin")

# endpoint name -> (method, path template, body, expected status per role in ROLES order)
MATRIX = {
    "me": ("get", "/api/me/", None, (401, 200, 200, 200, 200, 200)),
    "list projects": ("get", "/api/projects/", None, (401, 200, 200, 200, 200, 200)),
    "create project": ("post", "/api/projects/", {"name": "New"}, (401, 403, 403, 403, 403, 201)),
    "read project": ("get", "/api/projects/{p}/", None, (401, 404, 200, 200, 200, 200)),
    "change project": (
        "patch", "/api/projects/{p}/", {"description": "x"}, (401, 404, 403, 403, 200, 200),
    ),
    "delete project": ("delete", "/api/projects/{p}/", None, (401, 404, 403, 403, 403, 204)),
    "list members": ("get", "/api/projects/{p}/members/", None, (401, 404, 200, 200, 200, 200)),
    "add member": (
        "post", "/api/projects/{p}/members/", {"username": "{outsider}", "role": "annotator"},
        (401, 404, 403, 403, 201, 201),
    ),
    "remove member": (
        "delete", "/api/projects/{p}/members/{annotator_id}/annotator/", None,
        (401, 404, 403, 403, 204, 204),
    ),
    "list studies": ("get", "/api/projects/{p}/studies/", None, (401, 404, 200, 200, 200, 200)),
}  # fmt: skip

CASES = [
    pytest.param(endpoint, role, expected, id=f"{endpoint}-{role}")
    for endpoint, (_, _, _, statuses) in MATRIX.items()
    for role, expected in zip(ROLES, statuses, strict=True)
]


def _fill(value, team):
    names = {
        "p": team.project.pk,
        "outsider": team.outsider.username,
        "annotator_id": team.annotator.pk,
    }
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {key: _fill(item, team) for key, item in value.items()}
    return value


@pytest.mark.parametrize(("endpoint", "role", "expected"), CASES)
def test_permission_matrix(endpoint, role, expected, team, api):
    method, path, body, _ = MATRIX[endpoint]
    client = api(team.by_name(role))
    response = getattr(client, method)(_fill(path, team), _fill(body, team), format="json")
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert response.json()["detail"], "every refusal says why"


def test_project_list_shows_only_the_users_projects(team, api):
    response = api(team.outsider).get("/api/projects/")
    assert response.json() == []
    response = api(team.annotator).get("/api/projects/")
    assert [p["id"] for p in response.json()] == [team.project.pk]


def test_site_admin_sees_every_project(team, api):
    response = api(team.admin).get("/api/projects/")
    assert [p["id"] for p in response.json()] == [team.project.pk]


def test_creator_of_a_project_becomes_its_lead(team, api):
    response = api(team.admin).post("/api/projects/", {"name": "Screening 2026"}, format="json")
    assert response.status_code == 201
    members = api(team.admin).get(f"/api/projects/{response.json()['id']}/members/").json()
    assert [(m["username"], m["role"]) for m in members] == [(team.admin.username, Role.LEAD)]


def test_a_user_may_hold_two_roles_in_one_project(team, api):
    body = {"username": team.annotator.username, "role": "reviewer"}
    response = api(team.lead).post(f"/api/projects/{team.project.pk}/members/", body, format="json")
    assert response.status_code == 201
    roles = {
        m["role"]
        for m in api(team.lead).get(f"/api/projects/{team.project.pk}/members/").json()
        if m["username"] == team.annotator.username
    }
    assert roles == {"annotator", "reviewer"}
