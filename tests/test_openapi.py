from openapi_spec_validator import validate


def test_the_openapi_schema_is_valid_and_lists_the_api(team, api):
    response = api(team.lead).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    assert {"/api/projects/", "/api/projects/{project_id}/members/", "/api/auth/token/"} <= set(
        schema["paths"]
    )


def test_swagger_ui_is_served_without_a_cdn(client, team):
    client.force_login(team.lead)
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn." not in page
