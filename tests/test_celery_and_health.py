"""A task round-trips through the real broker; /healthz tells a running worker from a stopped."""

import pytest
import requests

from config.tasks import echo
from tests import processes
from tests.conftest import database_url_for_subprocesses

pytestmark = pytest.mark.slow


@pytest.mark.django_db(transaction=True)
def test_a_task_round_trips_through_the_real_broker_and_stores_its_result(celery_worker):
    from django_celery_results.models import TaskResult

    result = echo.delay("nodule")
    assert result.get(timeout=30) == "nodule"
    stored = TaskResult.objects.get(task_id=result.id)
    assert stored.status == "SUCCESS"
    assert stored.task_name == "config.echo"


@pytest.mark.django_db(transaction=True)
def test_health_reports_a_stopped_worker_as_down(tmp_path):
    # A broker database of its own, so no other test's worker answers the health check's ping.
    env = processes.platform_env(
        PLATFORM_MODE="test",
        DATABASE_URL=database_url_for_subprocesses(),
        CELERY_BROKER_URL="redis://127.0.0.1:6379/14",
    )
    port = processes.free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    with processes.running(processes.web_command(port), env, tmp_path / "web.log"):
        processes.wait_for_http(url)
        with processes.running(processes.worker_command("health"), env, tmp_path / "worker.log"):
            processes.wait_until(
                lambda: requests.get(url, timeout=10).status_code == 200, 60, "a healthy report"
            )
            report = requests.get(url, timeout=10).json()
            assert report["ok"] is True
            assert report["database"] == {"ok": True, "vendor": "postgresql"}
            assert report["broker"] == {"ok": True, "transport": "redis"}
            assert report["workers"]["queues"]["gpu"]["ok"] is True
            assert report["workers"]["workers"][0].startswith("health@")

        response = requests.get(url, timeout=10)
        assert response.status_code == 503
        report = response.json()
        assert report["ok"] is False
        assert report["workers"]["ok"] is False
        assert report["database"]["ok"] is True
        assert report["broker"]["ok"] is True


@pytest.mark.django_db(transaction=True)
def test_health_reports_an_unreachable_broker(tmp_path):
    env = processes.platform_env(
        PLATFORM_MODE="test",
        DATABASE_URL=database_url_for_subprocesses(),
        CELERY_BROKER_URL=f"redis://127.0.0.1:{processes.free_port()}/0",
    )
    port = processes.free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    with processes.running(processes.web_command(port), env, tmp_path / "web.log"):
        processes.wait_for_http(url)
        response = requests.get(url, timeout=20)
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False
    assert response.json()["workers"] == {"ok": False, "error": "broker down"}
