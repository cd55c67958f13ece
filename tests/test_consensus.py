"""Consensus on real disagreement: the four LIDC readers of LIDC-IDRI-0003 imported as readers."""

from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from accounts.models import Role
from annotations import labelmaps
from annotations.consensus import build_consensus, resolve_consensus
from annotations.lidc_import import import_lidc_reads
from annotations.models import Consensus, ConsensusState, Review, Task, TaskState
from config.errors import Forbidden, NotFound
from imaging.models import Series
from imaging.processing import process_series
from imaging.services import ingest_batch
from projects.models import AuditEvent
from tests.factories import MembershipFactory

LIDC = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lidc"
CASE = "LIDC-IDRI-0003"


def xml_of(case: str) -> Path:
    return next(LIDC.glob(f"{case}/*/*/*.xml"))


@pytest.fixture
def lidc_series(team):
    team.project.deidentify = False  # LIDC XML names images by their original SOP UIDs
    team.project.save()
    files = sorted(xml_of(CASE).parent.glob("*.dcm"))
    for start in range(0, len(files), 40):
        ingest_batch(
            project=team.project,
            items=[(f.name, f.read_bytes()) for f in files[start : start + 40]],
        )
    series = Series.objects.get(project=team.project)
    process_series(series_id=series.pk)
    series.refresh_from_db()
    return series


@pytest.fixture
def consensus(team, lidc_series):
    return import_lidc_reads(project=team.project, xml=xml_of(CASE), by=team.lead)


def test_four_lidc_readers_become_four_submitted_tasks_and_a_consensus(
    team, lidc_series, consensus
):
    tasks = Task.objects.filter(series=lidc_series).order_by("reader_slot")
    assert [t.assignee.username for t in tasks] == [f"lidc-reader-{n}" for n in (1, 2, 3, 4)]
    assert {t.state for t in tasks} == {TaskState.SUBMITTED}
    assert consensus.state == ConsensusState.PROPOSED
    assert consensus.reader_revisions.count() == 4
    # The three LUNA16 nodules, each drawn by all four readers. (One reader's fourth nodule
    # touches another of theirs, so on a one-segment labelmap the two are one blob.)
    assert sorted(m["reader_count"] for m in consensus.matches) == [4, 4, 4]
    assert all(m["proposed"] for m in consensus.matches)
    assert len(consensus.proposed_findings) == 3
    figures = consensus.agreement
    print("LIDC-IDRI-0003 agreement:", {k: v for k, v in figures.items() if k != "detail"})
    assert 0.6 < figures["mean_pairwise_dice"] < 0.9
    assert figures["mean_f1"] == 1.0
    assert set(figures["fleiss_kappa"]) >= {"malignancy", "subtlety", "margin"}
    # (one real import is slow to arrange, so the checks below share it)
    proposal_is_the_50_percent_vote_of_the_readers(consensus)
    importing_the_same_reads_again_changes_nothing(team, lidc_series, consensus)
    consensus_waits_until_every_reader_has_handed_in(lidc_series)


def proposal_is_the_50_percent_vote_of_the_readers(consensus):
    with consensus.proposed_labelmap.open("rb") as stored:
        proposal = labelmaps.decode(stored.read(), max_voxels=140 * 512 * 512).voxels
    readers = []
    for revision in consensus.reader_revisions.all():
        with revision.labelmap.open("rb") as stored:
            readers.append(labelmaps.decode(stored.read(), max_voxels=140 * 512 * 512).voxels > 0)
    votes = np.sum(readers, axis=0)
    assert np.array_equal(proposal > 0, votes >= 2)


def importing_the_same_reads_again_changes_nothing(team, lidc_series, consensus):
    again = import_lidc_reads(project=team.project, xml=xml_of(CASE))
    assert again.pk == consensus.pk
    assert Task.objects.filter(series=lidc_series).count() == 4
    assert sum(t.revisions.count() for t in Task.objects.filter(series=lidc_series)) == 4


def test_a_reviewer_resolves_the_consensus_and_every_reader_is_accepted(
    team, consensus, api, client
):
    path = f"/api/annotations/consensus/{consensus.pk}/"
    assert api(team.annotator).get(path).status_code == 404  # blind reads
    assert api(team.outsider).get(path).status_code == 404
    assert api(team.lead).get(path).json()["agreement"]["readers"] == 4
    by_series = api(team.reviewer).get(f"/api/annotations/series/{consensus.series_id}/consensus/")
    assert by_series.json()["id"] == consensus.pk
    client.force_login(team.reviewer)
    assert client.get("/tasks/next/")["Location"] == f"/tasks/consensus/{consensus.pk}/"
    page = client.get(f"/tasks/consensus/{consensus.pk}/").content.decode()
    assert page.count("data-match=") == 3 and "Resolve consensus" in page
    keep = [str(m["index"]) for m in consensus.matches if m["proposed"]]
    assert client.post(f"/tasks/consensus/{consensus.pk}/", {"include": keep}).status_code == 302
    resolved = Consensus.objects.get(pk=consensus.pk)
    assert resolved.state == ConsensusState.RESOLVED
    assert len(resolved.findings) == 3
    assert set(Task.objects.filter(series=consensus.series).values_list("state", flat=True)) == {
        TaskState.ACCEPTED
    }
    assert Review.objects.filter(decision="accepted").count() == 4
    assert AuditEvent.objects.filter(action="consensus.resolved", actor=team.reviewer).exists()
    with resolved.labelmap.open("rb") as stored:
        final = labelmaps.decode(stored.read(), max_voxels=140 * 512 * 512).voxels
    with resolved.proposed_labelmap.open("rb") as stored:
        proposal = labelmaps.decode(stored.read(), max_voxels=140 * 512 * 512).voxels
    assert np.array_equal(final > 0, proposal > 0)  # kept exactly the majority nodules
    again = api(team.reviewer).post(
        f"/api/annotations/consensus/{consensus.pk}/resolve/", {"include": []}, format="json"
    )
    assert again.status_code == 409
    assert again.json()["detail"] == "this consensus is already resolved"


def dropping_a_nodule_removes_it_from_the_final_label(team, consensus):
    keep = {m["index"] for m in consensus.matches[1:]}
    resolved = resolve_consensus(consensus=consensus, reviewer=team.reviewer, include=keep)
    assert len(resolved.findings) == 2
    assert resolved.decisions[str(consensus.matches[0]["index"])] is False


def test_only_a_reviewer_who_did_not_read_the_series_resolves_it_and_may_drop_nodules(
    team, consensus
):
    _only_a_reviewer_who_did_not_read_the_series_resolves_it(team, consensus)
    dropping_a_nodule_removes_it_from_the_final_label(team, consensus)


def _only_a_reviewer_who_did_not_read_the_series_resolves_it(team, consensus):
    with pytest.raises(Forbidden, match="only a reviewer"):
        resolve_consensus(consensus=consensus, reviewer=team.annotator, include=set())
    reader = Task.objects.filter(series=consensus.series).first().assignee
    MembershipFactory.create(project=team.project, user=reader, role=Role.REVIEWER)
    with pytest.raises(Forbidden, match="a reader of this series"):
        resolve_consensus(consensus=consensus, reviewer=reader, include=set())
    consensus.refresh_from_db()
    assert consensus.state == ConsensusState.PROPOSED


def test_a_read_message_for_a_series_not_in_the_project_is_refused(team):
    with pytest.raises(NotFound, match="not in this project"):
        import_lidc_reads(project=team.project, xml=xml_of(CASE))
    assert Task.objects.count() == 0


def consensus_waits_until_every_reader_has_handed_in(lidc_series):
    Consensus.objects.all().delete()
    task = Task.objects.filter(series=lidc_series).first()
    Task.objects.filter(pk=task.pk).update(state=TaskState.IN_PROGRESS)
    assert build_consensus(series_id=lidc_series.pk) is None


def test_the_import_command_prints_the_agreement(team, lidc_series, capsys):
    call_command("import_lidc_reads", "--project", str(team.project.pk), str(xml_of(CASE)))
    out = capsys.readouterr().out
    assert "3 nodule(s)" in out and "mean pairwise Dice 0." in out
