"""Settings load in each of the three modes, and production refuses to start half-configured."""

import json
import subprocess
import sys

import pytest

from tests import processes

PRODUCTION_ENV = {
    "PLATFORM_MODE": "production",
    "SECRET_KEY": "p" * 20 + "-production-secret-key-for-tests-only-0123456789",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/noduleflow",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "labels.example.org",
    "AWS_STORAGE_BUCKET_NAME": "noduleflow",
    "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
}

PROBE = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "mode": s.PLATFORM_MODE, "debug": s.DEBUG,
    "engine": s.DATABASES["default"]["ENGINE"],
    "init": s.DATABASES["default"].get("OPTIONS", {}).get("init_command", ""),
    "broker": s.CELERY_BROKER_URL, "storage": s.STORAGES["default"]["BACKEND"],
}))
"""


def load_settings(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in processes.platform_env().items() if k not in PRODUCTION_ENV}
    clean.pop("DJANGO_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, "VAR_DIR": str(tmp_path / "var"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_embedded_default_uses_sqlite_in_wal_and_files_in_var(tmp_path):
    result = load_settings(tmp_path, EMBEDDED_REDIS_URL="redis://127.0.0.1:6379/0")
    loaded = json.loads(result.stdout)
    assert loaded["mode"] == "embedded"
    assert loaded["engine"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in loaded["init"]
    assert loaded["broker"] == "redis://127.0.0.1:6379/0"
    assert loaded["storage"] == "django.core.files.storage.FileSystemStorage"
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_embedded_default_falls_back_to_the_filesystem_broker_without_redis(tmp_path):
    unreachable = f"redis://127.0.0.1:{processes.free_port()}/0"
    result = load_settings(tmp_path, EMBEDDED_REDIS_URL=unreachable)
    assert json.loads(result.stdout)["broker"] == "filesystem://"
    assert (tmp_path / "var" / "celery" / "queue").is_dir()
    assert (tmp_path / "var" / "celery" / "control").is_dir()


def test_test_mode_uses_postgres_and_redis(tmp_path):
    loaded = json.loads(load_settings(tmp_path, PLATFORM_MODE="test").stdout)
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert loaded["broker"].startswith("redis://127.0.0.1:6379/")


def test_production_reads_services_from_the_environment(tmp_path):
    loaded = json.loads(load_settings(tmp_path, **PRODUCTION_ENV).stdout)
    assert loaded == {
        "mode": "production",
        "debug": False,
        "engine": "django.db.backends.postgresql",
        "init": "",
        "broker": "redis://127.0.0.1:6379/0",
        "storage": "storages.backends.s3.S3Storage",
    }


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL"])
def test_production_without_a_required_setting_refuses_to_start(tmp_path, missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert f"Set the {missing} environment variable" in result.stderr


def test_an_unknown_mode_is_refused_with_a_message(tmp_path):
    result = load_settings(tmp_path, PLATFORM_MODE="staging")
    assert "PLATFORM_MODE must be embedded, production or test" in result.stderr


def test_production_settings_pass_the_deploy_checklist(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env={**processes.platform_env(), "VAR_DIR": str(tmp_path), **PRODUCTION_ENV},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=processes.ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
