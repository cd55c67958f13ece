"""Smoke run of the embedded default: SQLite, no Redis, the filesystem broker, real processes."""

import json

import pytest
import requests

from tests import processes

pytestmark = pytest.mark.slow


def test_embedded_default_runs_with_sqlite_and_no_redis(tmp_path):
    env = processes.platform_env(
        PLATFORM_MODE="embedded",
        VAR_DIR=str(tmp_path / "var"),
        EMBEDDED_REDIS_URL=f"redis://127.0.0.1:{processes.free_port()}/0",
        HEALTH_WORKER_TIMEOUT="2",
    )
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_DEBUG"):
        env.pop(name, None)
    processes.manage("migrate", "--noinput", env=env)
    demo = processes.manage("load_demo", env=env)
    assert "lead" in demo and "annotator1" in demo
    assert (tmp_path / "var" / "db.sqlite3").exists()

    port = processes.free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        processes.running(processes.web_command(port), env, tmp_path / "web.log"),
        processes.running(processes.worker_command("smoke"), env, tmp_path / "worker.log"),
    ):
        processes.wait_for_http(f"{base}/healthz")
        report = requests.get(f"{base}/healthz", timeout=20).json()
        assert report["database"] == {"ok": True, "vendor": "sqlite"}
        assert report["broker"] == {"ok": True, "transport": "filesystem"}

        login = requests.get(f"{base}/accounts/login/", timeout=10)
        assert login.status_code == 200
        assert "Sign in" in login.text

        round_trip = processes.manage(
            "shell", "-c",
            "from config.tasks import echo; print(echo.delay('embedded').get(timeout=60))",
            env=env,
        )  # fmt: skip
        assert round_trip.strip().splitlines()[-1] == "embedded"

    logins = json.loads((tmp_path / "var" / "demo_logins.json").read_text())
    assert set(logins) == {"admin", "lead", "annotator1", "annotator2", "reviewer"}
