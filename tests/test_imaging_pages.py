"""Imaging pages: the study list and study page for members, upload for those who may upload."""

import io
import re

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from PIL import Image

from imaging.models import Patient, Series, SeriesState, Study
from imaging.views import display_name
from projects.models import Project

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def make_study(
    project: Project,
    n: int = 1,
    *,
    name: str = "Anon^One",
    patient_id: str = "P-1",
    description: str = "Chest CT",
    study_date: str = "20240102",
) -> Study:
    patient, _ = Patient.objects.get_or_create(
        project=project, patient_id=patient_id, defaults={"patient_name": name}
    )
    return Study.objects.create(
        project=project,
        patient=patient,
        study_instance_uid=f"1.2.3.{n}",
        description=description,
        study_date=study_date,
        modalities="CT",
    )


def make_series(study: Study, n: int = 1, **fields) -> Series:
    return Series.objects.create(
        project=study.project,
        study=study,
        series_instance_uid=f"{study.study_instance_uid}.{n}",
        series_number=n,
        modality="CT",
        **fields,
    )


def png() -> ContentFile:
    out = io.BytesIO()
    Image.new("L", (8, 8), 128).save(out, format="PNG")
    return ContentFile(out.getvalue(), name="thumb.png")


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.content.decode()


def studies_url(project: Project) -> str:
    return f"/projects/{project.pk}/studies/"


# --- Study list --------------------------------------------------------------------------------
def test_members_see_the_study_list_with_series_count_state_and_thumbnail(client, team):
    study = make_study(team.project, description="Low-dose chest")
    make_series(study, 1, state=SeriesState.READY, thumbnail=png())
    make_series(study, 2, state=SeriesState.PROCESSING)
    client.force_login(team.reviewer)
    html = page(client, studies_url(team.project))
    assert "Low-dose chest" in html
    assert f'href="/projects/{team.project.pk}/studies/{study.pk}/"' in html
    assert "<td>2</td>" in html  # series count
    assert "Processing" in html  # the least advanced series state
    thumbnail = Series.objects.get(series_number=1)
    assert f"/projects/{team.project.pk}/series/{thumbnail.pk}/thumbnail.png" in html
    assert "Upload images" not in html  # reviewers do not upload


def test_study_list_searches_patient_name_id_and_description(client, team):
    # Names no fake user name (shown in the page header) could contain.
    make_study(team.project, 1, name="Zyxwort^Ann", patient_id="A-1", description="Chest")
    make_study(team.project, 2, name="Qwelling^Bob", patient_id="B-2", description="Abdomen")
    client.force_login(team.annotator)
    for query, shown, hidden in (("zyxw", "Zyxwort", "Qwelling"), ("B-2", "Qwelling", "Zyxwort"),
                                 ("abdo", "Qwelling", "Zyxwort")):  # fmt: skip
        html = page(client, f"{studies_url(team.project)}?q={query}")
        assert shown in html and hidden not in html


def test_study_list_sorts_by_study_date_and_pages(client, team):
    for n in range(30):
        make_study(team.project, n, patient_id=f"P{n}", study_date=f"2024{1 + n % 12:02d}01")
    client.force_login(team.annotator)
    html = page(client, f"{studies_url(team.project)}?sort=-date")
    assert "Page 1 of 2" in html
    dates = re.findall(r"<td>(2024\d{4})</td>", html)
    assert len(dates) == 25
    assert dates == sorted(dates, reverse=True)
    second = page(client, f"{studies_url(team.project)}?sort=-date&page=2")
    assert "Page 2 of 2" in second
    assert "sort=-date&amp;page=1" in second
    assert re.findall(r"<td>(2024\d{4})</td>", second)[-1] == "20240101"


def test_study_list_answers_htmx_with_the_table_only(client, team):
    make_study(team.project)
    client.force_login(team.annotator)
    response = client.get(studies_url(team.project), {"q": "anon"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.startswith('<section id="studies">')
    assert "<html" not in html


def test_study_list_query_count_does_not_grow_with_studies(
    client, team, django_assert_max_num_queries
):
    for n in range(20):
        study = make_study(team.project, n, patient_id=f"P{n}")
        make_series(study, 1)
        make_series(study, 2)
    client.force_login(team.annotator)
    # session, user, project, roles (upload link), count, studies, series prefetch
    with django_assert_max_num_queries(8):
        page(client, studies_url(team.project))


def test_outsiders_get_a_readable_404(client, team):
    study = make_study(team.project)
    client.force_login(team.outsider)
    for url in (studies_url(team.project), f"{studies_url(team.project)}{study.pk}/",
                f"/projects/{team.project.pk}/upload/"):  # fmt: skip
        response = client.get(url)
        assert response.status_code == 404
        assert "no such project" in response.content.decode()


def test_anonymous_users_are_sent_to_sign_in(client, team):
    response = client.get(studies_url(team.project))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- Study page --------------------------------------------------------------------------------
def test_study_page_shows_series_geometry_and_why_a_series_is_unfit(client, team):
    study = make_study(team.project)
    make_series(
        study,
        1,
        description="Lung 1.25mm",
        instance_count=133,
        state=SeriesState.READY,
        fit_for_3d=True,
        thumbnail=png(),
        geometry={
            "slice_count": 133, "rows": 512, "columns": 512, "pixel_spacing": [0.703125, 0.703125],
            "slice_spacing": 2.5, "orientation": "axial", "missing_slices": 0, "order": [],
            "problems": [],
        },
    )  # fmt: skip
    make_series(
        study,
        2,
        description="Scout",
        instance_count=2,
        state=SeriesState.READY,
        fit_for_3d=False,
        unfit_reason="only 2 image(s); a volume needs 3 or more",
        geometry={"slice_count": 2, "problems": ["only 2 image(s); a volume needs 3 or more"]},
    )
    client.force_login(team.reviewer)
    html = page(client, f"{studies_url(team.project)}{study.pk}/")
    assert "Lung 1.25mm" in html and "133" in html
    assert "512 x 512" in html
    assert "0.703 x 0.703 mm" in html
    assert "2.5 mm" in html
    assert "axial" in html
    assert "no: only 2 image(s); a volume needs 3 or more" in html
    series = Series.objects.get(series_number=1)
    assert f"/projects/{team.project.pk}/series/{series.pk}/thumbnail.png" in html


def test_study_of_another_project_is_a_404(client, team):
    other = make_study(Project.objects.create(name="Other", slug="other"))
    client.force_login(team.lead)
    response = client.get(f"{studies_url(team.project)}{other.pk}/")
    assert response.status_code == 404
    assert "no such study" in response.content.decode()


def test_thumbnails_are_served_to_members_only(client, team):
    series = make_series(make_study(team.project), thumbnail=png())
    url = f"/projects/{team.project.pk}/series/{series.pk}/thumbnail.png"
    client.force_login(team.reviewer)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    client.force_login(team.outsider)
    assert client.get(url).status_code == 404


def test_patient_names_with_script_are_shown_escaped(client, team):
    study = make_study(team.project, name=SCRIPT, description=SCRIPT)
    make_series(study, description=SCRIPT)
    client.force_login(team.lead)
    for url in (studies_url(team.project), f"{studies_url(team.project)}{study.pk}/",
                f"/projects/{team.project.pk}/"):  # fmt: skip
        html = page(client, url)
        assert SCRIPT not in html
        assert ESCAPED in html


# --- Upload ------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["lead", "annotator", "admin"])
def test_leads_annotators_and_admins_get_the_upload_page(client, team, who):
    client.force_login(team.by_name(who))
    html = page(client, f"/projects/{team.project.pk}/upload/")
    assert "webkitdirectory" in html
    assert "imaging/upload.js" in html
    assert f'data-endpoint="/projects/{team.project.pk}/upload/files/"' in html


def test_upload_is_forbidden_to_reviewers_readably(client, team):
    client.force_login(team.reviewer)
    response = client.get(f"/projects/{team.project.pk}/upload/")
    assert response.status_code == 403
    assert "only annotator or lead or site admin may upload images" in (response.content.decode())
    response = client.post(
        f"/projects/{team.project.pk}/upload/files/", {"files": [io.BytesIO(b"x")]}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_upload_endpoint_needs_a_session_and_a_csrf_token(team):
    client = Client(enforce_csrf_checks=True)
    url = f"/projects/{team.project.pk}/upload/files/"
    anonymous = client.post(url, {"files": [io.BytesIO(b"x")]})
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    client.force_login(team.annotator)
    assert client.post(url, {"files": [io.BytesIO(b"x")]}).status_code == 403  # no token
    client.get(f"/projects/{team.project.pk}/upload/")
    token = client.cookies["csrftoken"].value
    response = client.post(url, {"files": [io.BytesIO(b"x")]}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert response.json()["reports"][0]["outcome"] == "rejected"


def test_an_upload_over_the_limit_is_refused_before_it_is_read(client, team, settings):
    settings.DICOM_MAX_UPLOAD_BYTES = 100
    client.force_login(team.annotator)
    response = client.post(
        f"/projects/{team.project.pk}/upload/files/", {"files": [io.BytesIO(b"x" * 500)]}
    )
    assert response.status_code == 413
    assert "at most 100 bytes" in response.json()["detail"]


def test_an_upload_without_files_is_a_readable_error(client, team):
    client.force_login(team.annotator)
    response = client.post(f"/projects/{team.project.pk}/upload/files/", {})
    assert response.status_code == 400
    assert "no files" in response.json()["detail"]


def test_project_page_links_to_all_studies_and_upload(client, team):
    client.force_login(team.annotator)
    html = page(client, f"/projects/{team.project.pk}/")
    assert f'href="/projects/{team.project.pk}/studies/"' in html
    assert f'href="/projects/{team.project.pk}/upload/"' in html
    client.force_login(team.reviewer)
    html = page(client, f"/projects/{team.project.pk}/")
    assert f'href="/projects/{team.project.pk}/studies/"' in html
    assert f'href="/projects/{team.project.pk}/upload/"' not in html


def test_client_file_names_are_cleaned_for_display():
    assert display_name("case/\x00evil\n.dcm") == "case/evil.dcm"
    assert display_name("   ") == "unnamed file"
    assert len(display_name("a" * 1000)) == 255
