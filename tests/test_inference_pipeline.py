"""Pre-annotation end to end: registry, the gpu-queue task on a real worker, failures, retries."""

import os
import signal

import pytest

from annotations.models import Revision, Task
from annotations.services import create_task
from imaging.models import Series
from imaging.processing import process_series
from imaging.services import ingest_batch
from inference import registry
from inference.models import InferenceRun, ModelStatus, RunState
from inference.services import request_preannotation, run_preannotation
from tests.dicom_factory import series_bytes
from tests.factories import ProjectFactory
from tests.processes import wait_until


def ready_series(project, count: int = 16, size: int = 64, **kwargs) -> Series:
    ingest_batch(project=project, items=series_bytes(count, size=size, **kwargs))
    series = Series.objects.get(project=project)
    process_series(series_id=series.pk)
    series.refresh_from_db()
    return series


def unet(project, **config):
    from inference.networks.unet import random_weights

    plan = {"spacing": [2.5, 2.0, 2.0], "patch_size": [16, 32, 32], **config}
    return registry.register_model(
        project=project, name="unet", version="r0", architecture="unet3d", config=plan,
        weights=random_weights(plan, seed=0),
    )  # fmt: skip


@pytest.fixture
def project(db):
    return ProjectFactory.create(deidentify=False, preannotate_on_ingest=False)


def test_the_classical_detector_is_the_default_active_model(project):
    model = registry.ensure_default_model(project)
    assert (model.architecture, model.status) == ("classical-v0", ModelStatus.ACTIVE)
    assert registry.ensure_default_model(project) == model


def test_activating_a_model_retires_the_previous_and_roll_back_restores_it(project):
    v0 = registry.ensure_default_model(project)
    candidate = unet(project)
    registry.activate(candidate)
    v0.refresh_from_db()
    assert v0.status == ModelStatus.RETIRED
    assert registry.roll_back(project) == v0
    candidate.refresh_from_db()
    assert candidate.status == ModelStatus.RETIRED


def test_a_run_saves_a_model_revision_with_findings_and_timings(project):
    series = ready_series(project)
    run = request_preannotation(series=series)
    run = run_preannotation(run_id=run.pk)
    assert run.state == RunState.SUCCEEDED, run.error
    assert set(run.timings) == {"load", "preprocess", "network", "postprocess", "save"}
    task = Task.objects.get(series=series)
    revision = task.latest_revision
    assert revision.model_version_id == run.model_version_id and revision.author_id is None
    assert revision.findings and revision.findings[0]["confidence"] is not None


def test_running_twice_writes_one_revision(project):
    series = ready_series(project)
    run = request_preannotation(series=series)
    run_preannotation(run_id=run.pk)
    run_preannotation(run_id=run.pk)
    assert Revision.objects.count() == 1


def test_a_model_revision_never_goes_over_a_persons_work(project, team):
    series = ready_series(project)
    from tests.test_revisions import payload  # the viewer's save format

    annotator = team.annotator
    from projects.models import Membership

    Membership.objects.create(project=project, user=annotator, role="annotator")
    task = create_task(series=series, assignee=annotator)
    from annotations.services import save_revision

    human = save_revision(
        task=task, author=annotator, parent_id=None, payload=payload(task), findings=[]
    )
    run = run_preannotation(run_id=request_preannotation(series=series).pk)
    assert run.state == RunState.SUCCEEDED
    task.refresh_from_db()
    assert task.latest_revision_id == human.pk
    assert Revision.objects.filter(model_version__isnull=False).count() == 0


def test_a_series_unfit_for_3d_fails_with_the_reason_and_no_revision(project):
    items = series_bytes(8)
    del items[3]
    ingest_batch(project=project, items=items)
    series = Series.objects.get()
    process_series(series_id=series.pk)
    run = run_preannotation(run_id=request_preannotation(series=series).pk)
    assert run.state == RunState.FAILED
    assert run.error == "series is not fit for 3D: 1 slice(s) missing (gaps in slice positions)"
    assert Revision.objects.count() == 0


def test_weights_with_a_wrong_checksum_fail_the_run_readably(project):
    series = ready_series(project)
    model = unet(project)
    model.weights_sha256 = "0" * 64
    model.save()
    run = run_preannotation(run_id=request_preannotation(series=series, model_version=model).pk)
    assert run.state == RunState.FAILED
    assert "do not match their registered checksum" in run.error
    assert Revision.objects.count() == 0


def test_the_runs_api_shows_state_and_the_lead_can_start_a_run(team, api):
    series = ready_series(team.project)
    response = api(team.annotator).post(f"/api/inference/series/{series.pk}/preannotate/")
    assert response.status_code == 403
    response = api(team.lead).post(f"/api/inference/series/{series.pk}/preannotate/")
    assert response.status_code == 202
    runs = api(team.reviewer).get(f"/api/inference/series/{series.pk}/runs/").json()
    assert runs[0]["state"] == "queued"
    assert api(team.outsider).get(f"/api/inference/series/{series.pk}/runs/").status_code == 404


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_random_weights_unet_runs_through_the_real_worker(celery_worker):
    project = ProjectFactory.create(deidentify=False, preannotate_on_ingest=False)
    series = ready_series(project)
    model = unet(project)
    registry.activate(model)
    run = request_preannotation(series=series)
    wait_until(
        lambda: InferenceRun.objects.get(pk=run.pk).state in ("succeeded", "failed"), 120, "the run"
    )
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED, run.error
    assert Task.objects.get(series=series).latest_revision.model_version_id == model.pk


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_task_leads_to_a_retry_not_a_lost_or_duplicate_revision(
    tmp_path, settings
):
    import psutil

    from tests import processes
    from tests.conftest import database_url_for_subprocesses, use_media_root

    use_media_root(settings, tmp_path / "media")
    project = ProjectFactory.create(deidentify=False, preannotate_on_ingest=False)
    series = ready_series(project, count=24, size=64)
    # Slow enough to be caught mid-run: a large patch with test-time augmentation.
    model = unet(project, tta=True, patch_size=[24, 64, 64], spacing=[1.0, 0.5, 0.5])
    env = processes.platform_env(
        PLATFORM_MODE="test",
        DATABASE_URL=database_url_for_subprocesses(),
        MEDIA_ROOT=str(tmp_path / "media"),
        CELERY_BROKER_URL="redis://127.0.0.1:6379/12",
    )
    command = processes.worker_command("killable", queues="gpu")
    command[command.index("solo")] = "prefork"
    with processes.running(command, env, tmp_path / "worker.log") as worker:
        from config.celery_app import app

        with app.connection_for_write(url="redis://127.0.0.1:6379/12") as conn:
            run = InferenceRun.objects.create(series=series, model_version=model)
            app.send_task("inference.preannotate", (run.pk,), queue="gpu", connection=conn)
        wait_until(
            lambda: InferenceRun.objects.get(pk=run.pk).stage == "network", 90, "the network"
        )
        children = psutil.Process(worker.pid).children(recursive=True)
        assert children, "the prefork worker has a child doing the work"
        for child in children:
            os.kill(child.pid, signal.SIGKILL)
        wait_until(
            lambda: InferenceRun.objects.get(pk=run.pk).state == "succeeded", 180, "the retry"
        )
    run.refresh_from_db()
    assert run.attempts == 2
    assert Revision.objects.filter(task__series=series).count() == 1


def test_the_study_page_shows_runs_and_lets_the_lead_start_one(team, client):
    series = ready_series(team.project)
    url = f"/projects/{team.project.pk}/series/{series.pk}/inference/"
    client.force_login(team.annotator)
    assert "Pre-annotate now" not in client.get(url).content.decode()
    assert client.post(url).status_code == 403
    client.force_login(team.lead)
    page = client.post(url).content.decode()
    assert "Queued" in page
    assert InferenceRun.objects.filter(series=series).count() == 1
    run = InferenceRun.objects.get()
    run_preannotation(run_id=run.pk)
    page = client.get(url).content.decode()
    assert "Succeeded" in page and "network" in page
    client.force_login(team.outsider)
    assert client.get(url).status_code == 404


def test_tta_stores_an_uncertainty_map_the_viewer_can_fetch(team, api):
    from annotations import labelmaps

    series = ready_series(team.project)
    model = unet(team.project, tta=True)
    run = run_preannotation(run_id=request_preannotation(series=series, model_version=model).pk)
    assert run.state == RunState.SUCCEEDED, run.error
    assert run.uncertainty is not None
    runs = api(team.annotator).get(f"/api/inference/series/{series.pk}/runs/").json()
    url = runs[0]["uncertainty_map_url"]
    assert url == f"/api/inference/revisions/{run.revision_id}/uncertainty"
    response = api(team.annotator).get(url, HTTP_ACCEPT="application/octet-stream")
    assert response.status_code == 200
    uncertainty = labelmaps.decode(response.content, max_voxels=10**8)
    assert uncertainty.header.shape == (16, 64, 64)
    assert api(team.outsider).get(url).status_code == 404


def test_a_model_without_tta_has_no_uncertainty_map(project, team, api):
    series = ready_series(project)
    run = run_preannotation(run_id=request_preannotation(series=series).pk)
    response = api(team.admin).get(f"/api/inference/revisions/{run.revision_id}/uncertainty")
    assert response.status_code == 404
    assert response.json()["detail"] == "this revision has no uncertainty map"


def test_a_worker_out_of_memory_fails_the_run_readably_and_writes_nothing(project):
    series = ready_series(project)
    # A plan whose sliding window cannot fit: ask for more memory than the machine has.
    model = unet(project, patch_size=[4096, 4096, 4096], spacing=[0.05, 0.05, 0.05])
    run = run_preannotation(run_id=request_preannotation(series=series, model_version=model).pk)
    assert run.state == RunState.FAILED
    assert run.error == "the worker ran out of memory; try a smaller patch or batch size"
    assert Revision.objects.count() == 0
