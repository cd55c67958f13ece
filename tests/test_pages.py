"""Pages: sign in, the project list, a project's page, and members managed through htmx."""

from accounts.models import Role
from projects.models import Membership
from tests.factories import PASSWORD, ProjectFactory


def test_login_page_signs_in_and_lands_on_the_project_list(client, team):
    assert client.get("/accounts/login/").status_code == 200
    response = client.post(
        "/accounts/login/", {"username": team.annotator.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/projects/"
    page = client.get("/projects/").content.decode()
    assert team.project.name in page
    assert "Annotator" in page


def test_wrong_password_shows_a_readable_message(client, team):
    response = client.post("/accounts/login/", {"username": team.lead.username, "password": "x"})
    assert response.status_code == 200
    assert "Unknown user or wrong password." in response.content.decode()


def test_pages_send_anonymous_users_to_sign_in(client, db):
    response = client.get("/projects/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_project_list_shows_only_the_users_projects(client, team):
    ProjectFactory(name="Someone else's study")
    client.force_login(team.annotator)
    page = client.get("/projects/").content.decode()
    assert team.project.name in page
    assert "Someone else" not in page


def test_project_page_shows_members_studies_and_task_counts(client, team):
    client.force_login(team.reviewer)
    page = client.get(f"/projects/{team.project.pk}/").content.decode()
    assert team.lead.display_name in page
    assert "No studies yet." in page
    assert "0</strong> tasks" in page
    assert "Add member" not in page  # only leads manage members


def test_project_page_of_a_foreign_project_is_a_readable_404(client, team):
    client.force_login(team.outsider)
    response = client.get(f"/projects/{team.project.pk}/")
    assert response.status_code == 404
    assert "no such project" in response.content.decode()


def test_project_names_are_escaped(client, team):
    team.project.name = "<script>alert(1)</script>"
    team.project.save()
    client.force_login(team.lead)
    for url in ("/projects/", f"/projects/{team.project.pk}/"):
        page = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_lead_adds_a_member_with_htmx(client, team):
    client.force_login(team.lead)
    response = client.post(
        f"/projects/{team.project.pk}/members/",
        {"username": team.outsider.username, "role": Role.REVIEWER},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert team.outsider.display_name in response.content.decode()
    assert Membership.objects.filter(user=team.outsider, role=Role.REVIEWER).exists()


def test_adding_a_role_twice_shows_the_conflict_in_the_form(client, team):
    client.force_login(team.lead)
    response = client.post(
        f"/projects/{team.project.pk}/members/",
        {"username": team.annotator.username, "role": Role.ANNOTATOR},
    )
    assert response.status_code == 409
    assert "already annotator here" in response.content.decode()


def test_annotator_cannot_add_members(client, team):
    client.force_login(team.annotator)
    response = client.post(
        f"/projects/{team.project.pk}/members/",
        {"username": team.outsider.username, "role": Role.LEAD},
    )
    assert response.status_code == 403
    assert "only lead or site admin may manage members" in response.content.decode()
    assert not Membership.objects.filter(user=team.outsider).exists()


def test_lead_removes_a_member(client, team):
    client.force_login(team.lead)
    url = f"/projects/{team.project.pk}/members/{team.annotator.pk}/annotator/remove/"
    response = client.post(url)
    assert response.status_code == 200
    assert not Membership.objects.filter(user=team.annotator).exists()
