"""QIDO-RS: searches match on the indexed columns and answer in DICOM JSON."""

import gzip
import json

import pytest

from tests.dicom_factory import ct_dataset, to_bytes
from tests.dicomweb_fixtures import (  # noqa: F401 - *_fixture imports register fixtures
    SERIES,
    STUDY,
    fresh_access_cache_fixture,
    phantom_fixture,
    store,
    token_client_fixture,
)

JSON = {"HTTP_ACCEPT": "application/dicom+json"}


def search(client, url: str, **params):
    response = client.get(url, params, **JSON)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/dicom+json"
    return response.json()


def value(result: dict, tag: str):
    return result[tag].get("Value", [None])[0]


@pytest.fixture
def second_study(phantom):
    """Another patient's study (MR, 2019) in the same project."""
    uid = "1.2.826.0.1.3680043.8.498.10"
    files = []
    for i in range(2):
        ds = ct_dataset(i, study=uid, series=f"{uid}.1", patient_name="Smith^John")
        ds.Modality, ds.StudyDate, ds.PatientID, ds.AccessionNumber = "MR", "20190305", "P-2", "A9"
        files.append(to_bytes(ds))
    store(phantom.project, files)
    return uid


def test_study_search_returns_the_required_attributes(phantom, token_client, team):
    (study,) = search(token_client(team.reviewer), f"{phantom.base}/studies")
    assert value(study, "0020000D") == STUDY
    assert study["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]}
    assert value(study, "00100020") == "PHANTOM-1"
    assert value(study, "00080020") == "20240102"
    assert value(study, "00080050") == "ACC123"
    assert study["00080061"] == {"vr": "CS", "Value": ["CT"]}
    assert value(study, "00201206") == 1  # NumberOfStudyRelatedSeries
    assert value(study, "00201208") == 4  # NumberOfStudyRelatedInstances
    assert value(study, "00080056") == "ONLINE"
    assert value(study, "00081190") == f"http://testserver{phantom.base}/studies/{STUDY}"


def test_studies_match_patient_name_with_wildcards_in_any_case(
    phantom, second_study, token_client, team
):
    client = token_client(team.annotator)
    url = f"{phantom.base}/studies"
    assert [value(s, "0020000D") for s in search(client, url, PatientName="smi*")] == [second_study]
    assert [value(s, "0020000D") for s in search(client, url, PatientName="DOE^JAN?")] == [STUDY]
    assert search(client, url, PatientName="Doe") == []
    assert len(search(client, url, PatientName="*")) == 2


def test_studies_match_patient_id_accession_and_uid_lists(
    phantom, second_study, token_client, team
):
    client = token_client(team.annotator)
    url = f"{phantom.base}/studies"
    assert [value(s, "0020000D") for s in search(client, url, PatientID="P-2")] == [second_study]
    assert [value(s, "0020000D") for s in search(client, url, AccessionNumber="ACC123")] == [STUDY]
    both = search(client, url, StudyInstanceUID=f"{STUDY},{second_study}")
    assert len(both) == 2
    assert len(search(client, url, StudyInstanceUID=f"{STUDY}\\{second_study}")) == 2
    assert [value(s, "0020000D") for s in search(client, url, **{"0020000D": STUDY})] == [STUDY]


def test_studies_match_single_dates_and_ranges_with_open_ends(
    phantom, second_study, token_client, team
):
    client = token_client(team.annotator)
    url = f"{phantom.base}/studies"

    def found(date: str) -> set[str]:
        return {value(s, "0020000D") for s in search(client, url, StudyDate=date)}

    assert found("20240102") == {STUDY}
    assert found("20190101-20191231") == {second_study}
    assert found("-20200101") == {second_study}
    assert found("20200101-") == {STUDY}
    assert found("20240103-") == set()


def test_studies_match_modalities_in_study(phantom, second_study, token_client, team):
    client = token_client(team.annotator)
    url = f"{phantom.base}/studies"
    mr = search(client, url, ModalitiesInStudy="MR")
    assert [value(s, "0020000D") for s in mr] == [second_study]
    assert len(search(client, url, ModalitiesInStudy="CT,MR")) == 2
    assert search(client, url, ModalitiesInStudy="US") == []


def test_series_search_within_a_study_and_across_the_project(
    phantom, second_study, token_client, team
):
    client = token_client(team.annotator)
    (series,) = search(client, f"{phantom.base}/studies/{STUDY}/series")
    assert value(series, "0020000E") == SERIES
    assert value(series, "00080060") == "CT"
    assert value(series, "00201209") == 4
    assert value(series, "0020000D") == STUDY
    everything = search(client, f"{phantom.base}/series")
    assert len(everything) == 2
    # Searching all series returns the study's attributes too.
    assert {value(s, "00100020") for s in everything} == {"PHANTOM-1", "P-2"}
    mr = search(client, f"{phantom.base}/series", Modality="MR")
    assert [value(s, "0020000D") for s in mr] == [second_study]
    assert search(client, f"{phantom.base}/series", PatientID="P-2")[0]["00080060"]["Value"] == [
        "MR"
    ]


def test_instance_search_in_a_series_is_ordered_by_instance_number(phantom, token_client, team):
    client = token_client(team.annotator)
    url = f"{phantom.base}/studies/{STUDY}/series/{SERIES}/instances"
    instances = search(client, url)
    assert [value(i, "00200013") for i in instances] == [1, 2, 3, 4]
    assert [value(i, "00080018") for i in instances] == phantom.sops
    first = instances[0]
    assert value(first, "00280010") == 32
    assert value(first, "00280008") == 1
    assert value(first, "00083002") == "1.2.840.10008.1.2.1"
    assert value(first, "0020000E") == SERIES
    assert value(first, "00081190").endswith(f"/instances/{phantom.sops[0]}")
    (one,) = search(client, url, SOPInstanceUID=phantom.sops[2])
    assert value(one, "00200013") == 3
    assert len(search(client, f"{phantom.base}/studies/{STUDY}/instances")) == 4


def test_limit_and_offset_page_through_results(phantom, token_client, team):
    client = token_client(team.annotator)
    url = f"{phantom.base}/studies/{STUDY}/series/{SERIES}/instances"
    page = search(client, url, limit=2, offset=1)
    assert [value(i, "00200013") for i in page] == [2, 3]
    assert search(client, url, offset=10) == []


def test_includefield_adds_attributes_by_keyword_tag_or_all(phantom, token_client, team):
    client = token_client(team.annotator)
    url = f"{phantom.base}/studies/{STUDY}/series/{SERIES}/instances"
    first = search(client, url, includefield="PixelSpacing,00180050", limit=1)[0]
    assert first["00280030"]["Value"] == [1.0, 1.0]
    assert first["00180050"]["Value"] == [2.5]
    (study,) = search(client, f"{phantom.base}/studies", includefield="InstitutionName")
    assert study["00080080"]["Value"] == ["General Hospital"]
    (series,) = search(client, f"{phantom.base}/studies/{STUDY}/series", includefield="all")
    assert value(series, "00180015") is None  # BodyPartExamined: known, empty here
    assert "00180015" in series


def test_an_empty_search_is_200_with_an_empty_array(phantom, token_client, team):
    response = token_client(team.annotator).get(
        f"{phantom.base}/studies", {"PatientID": "nobody"}, **JSON
    )
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"StudyDate": "2024-01-02"}, "StudyDate must be a date YYYYMMDD"),
        ({"StudyDate": "20240102-20230101"}, "StudyDate range ends before it starts"),
        ({"StudyDate": "20241340"}, "StudyDate must be a date YYYYMMDD"),
        ({"limit": "ten"}, "limit must be an integer, not 'ten'"),
        ({"offset": "-1"}, "offset must be at least 0"),
        ({"NotAKeyword": "x"}, "NotAKeyword is not a DICOM attribute keyword or tag"),
        ({"includefield": "Nonsense"}, "includefield 'Nonsense' is not a keyword"),
    ],
)
def test_bad_query_parameters_are_400_with_a_message(phantom, token_client, team, params, message):
    response = token_client(team.annotator).get(f"{phantom.base}/studies", params, **JSON)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["detail"].startswith(message)


def test_unsupported_matching_keys_are_ignored_with_a_warning(phantom, token_client, team):
    response = token_client(team.annotator).get(
        f"{phantom.base}/studies", {"InstitutionName": "x"}, **JSON
    )
    assert response.status_code == 200
    assert len(response.json()) == 1
    assert "InstitutionName" in response["Warning"]


def test_search_results_are_gzipped_when_the_client_accepts_it(phantom, token_client, team):
    response = token_client(team.annotator).get(
        f"{phantom.base}/studies/{STUDY}/series/{SERIES}/instances",
        HTTP_ACCEPT_ENCODING="gzip, deflate",
        **JSON,
    )
    assert response["Content-Encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(response.content))) == 4


def test_xml_only_clients_get_406(phantom, token_client, team):
    response = token_client(team.annotator).get(
        f"{phantom.base}/studies", HTTP_ACCEPT="application/dicom+xml"
    )
    assert response.status_code == 406
    assert response.json()["code"] == "not_acceptable"


def test_a_search_costs_one_query_once_access_is_cached(
    phantom, second_study, token_client, team, django_assert_num_queries
):
    client = token_client(team.annotator)
    search(client, f"{phantom.base}/studies")
    with django_assert_num_queries(1):  # the page, its series/instance counts as subqueries
        assert len(search(client, f"{phantom.base}/studies")) == 2
    with django_assert_num_queries(1):  # the page: its counts are Series.instance_count
        assert len(search(client, f"{phantom.base}/series")) == 2
    with django_assert_num_queries(1):
        assert len(search(client, f"{phantom.base}/studies/{STUDY}/instances")) == 4


def test_a_repeated_search_sees_studies_stored_since_it_last_ran(phantom, token_client, team):
    client = token_client(team.annotator)
    url = f"{phantom.base}/studies"
    assert [value(s, "0020000D") for s in search(client, url)] == [STUDY]
    uid = "1.2.826.0.1.3680043.8.498.11"
    store(phantom.project, [to_bytes(ct_dataset(0, study=uid, series=f"{uid}.1"))])
    studies = search(client, url)  # the same search: its SQL is reused, its rows are not
    assert sorted(value(s, "0020000D") for s in studies) == sorted([STUDY, uid])
    counts = {value(s, "0020000D"): value(s, "00201208") for s in studies}
    assert counts[uid] == 1
