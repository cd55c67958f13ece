"""Who may read a project's DICOMweb service: members of any role and site admins, by token or
session; everyone else gets the same 404 whether or not the project exists."""

import pytest
from django.test import Client

from imaging.dicomweb import auth, memo
from projects.models import Membership
from tests.dicomweb_fixtures import (  # noqa: F401 - *_fixture imports register fixtures
    fresh_access_cache_fixture,
    phantom_fixture,
    token_client_fixture,
)
from tests.factories import ProjectFactory


@pytest.mark.parametrize("who", ["admin", "lead", "annotator", "reviewer"])
def test_members_of_any_role_and_site_admins_may_search(phantom, token_client, team, who):
    response = token_client(getattr(team, who)).get(f"{phantom.base}/studies")
    assert response.status_code == 200
    assert len(response.json()) == 1


def test_an_outsider_gets_404_as_for_a_project_that_does_not_exist(phantom, token_client, team):
    outsider = token_client(team.outsider)
    foreign = outsider.get(f"{phantom.base}/studies")
    missing = outsider.get("/dicomweb/projects/999999/studies")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json() == {"code": "not_found", "detail": "no such project"}
    assert outsider.get(f"{phantom.instance_url(0)}/frames/1").status_code == 404


def test_a_member_gets_404_for_another_project(phantom, token_client, team):
    other = ProjectFactory.create()
    response = token_client(team.annotator).get(f"/dicomweb/projects/{other.pk}/studies")
    assert response.status_code == 404


def test_no_credentials_or_a_bad_token_are_401(phantom):
    anonymous = Client().get(f"{phantom.base}/studies")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Token"
    assert anonymous.json()["code"] == "not_authenticated"
    bad = Client().get(f"{phantom.base}/studies", HTTP_AUTHORIZATION="Token nope")
    assert bad.status_code == 401
    assert bad.json()["detail"] == "invalid token"
    basic = Client().get(f"{phantom.base}/studies", HTTP_AUTHORIZATION="Basic dXNlcjpwdw==")
    assert basic.status_code == 401


def test_another_authorization_scheme_leaves_the_session_in_charge(phantom, team):
    browser = Client()
    browser.force_login(team.reviewer)
    # e.g. a proxy in front that asks for Basic auth: its header is not ours to judge.
    response = browser.get(f"{phantom.base}/studies", HTTP_AUTHORIZATION="Basic dXNlcjpwdw==")
    assert response.status_code == 200


def test_a_signed_in_browser_session_may_read(phantom, team):
    browser = Client()
    browser.force_login(team.reviewer)
    assert browser.get(f"{phantom.instance_url(0)}/frames/1").status_code == 200


def test_a_deactivated_user_token_stops_working(phantom, token_client, team):
    client = token_client(team.annotator)
    team.annotator.is_active = False
    team.annotator.save()
    assert client.get(f"{phantom.base}/studies").status_code == 401


def test_granted_access_works_at_once_and_revoked_access_after_the_cache_expires(
    phantom, token_client, team, monkeypatch
):
    client = token_client(team.outsider)
    assert client.get(f"{phantom.base}/studies").status_code == 404
    membership = Membership.objects.create(project=phantom.project, user=team.outsider, role="lead")
    assert client.get(f"{phantom.base}/studies").status_code == 200
    membership.delete()
    assert client.get(f"{phantom.base}/studies").status_code == 200  # still cached
    now = memo.time.monotonic()
    monkeypatch.setattr(memo.time, "monotonic", lambda: now + auth.ACCESS_TTL_SECONDS + 1)
    assert client.get(f"{phantom.base}/studies").status_code == 404


def test_other_methods_are_405_naming_the_allowed_ones(phantom, token_client, team):
    client = token_client(team.lead)
    response = client.delete(f"{phantom.base}/studies")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD, POST"
    frames = client.post(f"{phantom.instance_url(0)}/frames/1")
    assert frames.status_code == 405
    assert frames["Allow"] == "GET, HEAD"


def test_an_unknown_dicomweb_path_is_a_json_404(phantom, token_client, team):
    response = token_client(team.lead).get(f"{phantom.base}/workitems")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_cache_forgets_its_oldest_entries_past_its_size() -> None:
    cache: auth.TtlCache[str, int] = auth.TtlCache(ttl=60, max_entries=2)
    for key, value in (("a", 1), ("b", 2), ("c", 3)):
        cache.put(key, value)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, 3)
