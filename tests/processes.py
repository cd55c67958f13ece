"""Start the platform's real processes (web, Celery worker) for integration tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def platform_env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}", **overrides}
    return env


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


@contextmanager
def running(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` in its own process group; stop the whole group on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def worker_command(name: str, queues: str = "default,gpu") -> list[str]:
    return [
        str(BIN / "celery"), "-A", "config.celery_app", "worker", "-Q", queues,
        "-n", f"{name}@%h", "--pool", "solo", "--loglevel", "INFO", "--without-mingle",
        "--without-gossip",
    ]  # fmt: skip


def web_command(port: int) -> list[str]:
    return [
        str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
        "--workers", "1", "--threads", "4", "--timeout", "60",
    ]  # fmt: skip


def wait_for_http(url: str, timeout: float = 60) -> None:
    def answers() -> bool:
        try:
            requests.get(url, timeout=10)
            return True
        except requests.RequestException:
            return False

    wait_until(answers, timeout, url)
