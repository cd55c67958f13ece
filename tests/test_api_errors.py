"""Bad input gets a 4xx with a message, and nothing is written."""

from accounts.models import Role
from projects.models import Membership, Project
from tests.factories import PASSWORD


def test_wrong_password_is_401_with_a_message(team, api):
    body = {"username": team.lead.username, "password": "wrong"}
    response = api(None).post("/api/auth/token/", body, format="json")
    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_credentials",
        "detail": "unknown user or wrong password",
    }


def test_right_password_gives_a_token_that_authenticates(team, api):
    body = {"username": team.lead.username, "password": PASSWORD}
    token = api(None).post("/api/auth/token/", body, format="json").json()["token"]
    response = api(None).get("/api/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert response.json()["username"] == team.lead.username


def test_a_bad_token_is_401(api, db):
    response = api(None).get("/api/me/", HTTP_AUTHORIZATION="Token not-a-token")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert "token" in response.json()["detail"].lower()


def test_malformed_json_is_400_with_a_message(team, api):
    response = api(team.lead).patch(
        f"/api/projects/{team.project.pk}/",
        data='{"name": "x",',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "JSON parse error" in response.json()["detail"]


def test_missing_credentials_in_token_request_name_the_field(api, db):
    response = api(None).post("/api/auth/token/", {"username": "x"}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "password: This field is required."


def test_unknown_project_is_404_for_members_and_outsiders_alike(team, api):
    unknown = Project.objects.order_by("-pk").first().pk + 1000
    for user in (team.annotator, team.outsider):
        response = api(user).get(f"/api/projects/{unknown}/")
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "detail": "no such project"}
    foreign = api(team.outsider).get(f"/api/projects/{team.project.pk}/")
    assert foreign.json() == response.json()


def test_forbidden_change_says_who_may_do_it(team, api):
    response = api(team.annotator).patch(
        f"/api/projects/{team.project.pk}/", {"name": "Mine"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "only lead or site admin may change the project"
    team.project.refresh_from_db()
    assert team.project.name != "Mine"


def test_invalid_label_schema_is_refused_and_the_old_one_kept(team, api):
    before = team.project.label_schema
    bad = {"segments": [{"name": "Nodule", "colour": "red", "code": {}}]}
    response = api(team.lead).patch(
        f"/api/projects/{team.project.pk}/", {"label_schema": bad}, format="json"
    )
    assert response.status_code == 400
    assert "colour must look like #rrggbb" in response.json()["detail"]
    team.project.refresh_from_db()
    assert team.project.label_schema == before


def test_adding_an_existing_role_again_is_a_conflict(team, api):
    body = {"username": team.annotator.username, "role": "annotator"}
    response = api(team.lead).post(f"/api/projects/{team.project.pk}/members/", body, format="json")
    assert response.status_code == 409
    assert "already annotator" in response.json()["detail"]
    assert Membership.objects.filter(user=team.annotator, role=Role.ANNOTATOR).count() == 1


def test_adding_an_unknown_user_is_400(team, api):
    body = {"username": "nobody-here", "role": "annotator"}
    response = api(team.lead).post(f"/api/projects/{team.project.pk}/members/", body, format="json")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("username:")


def test_the_last_lead_cannot_be_removed(team, api):
    url = f"/api/projects/{team.project.pk}/members/{team.lead.pk}/lead/"
    response = api(team.admin).delete(url)
    assert response.status_code == 409
    assert response.json()["detail"] == "a project keeps at least one lead"
    assert Membership.objects.filter(user=team.lead, role=Role.LEAD).exists()
