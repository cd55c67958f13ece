"""The web and worker processes keep freed half-megabyte buffers for the next request instead
of handing the pages back to the kernel and faulting them in again (config.memory). Observed
through glibc's own accounting, which does not depend on how busy the machine is."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Megabytes of memory glibc keeps (heap or mappings) after 16 frames' worth is freed.
PROBE = """
import ctypes
{setup}
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = MallInfo2
def held():
    info = mallinfo2()
    return info.arena + info.hblkhd
before = held()
frames = [bytearray(1024 * 1024) for _ in range(16)]
del frames
print((held() - before) // 1024**2)
"""

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or os.confstr("CS_GNU_LIBC_VERSION") is None, reason="glibc only"
)


def megabytes_kept_after_freeing_frames(setup: str) -> int:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")},
        "PYTHONPATH": f"{REPO / 'platform'}:{REPO}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(setup=setup)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(out.stdout.strip().splitlines()[-1])


def test_untuned_freed_frames_go_back_to_the_kernel():
    assert megabytes_kept_after_freeing_frames("") < 4


@pytest.mark.parametrize("entry", ["config.wsgi", "config.celery_app", "config.asgi"])
def test_each_entry_point_keeps_freed_frames_for_reuse(entry):
    assert megabytes_kept_after_freeing_frames(f"import {entry}") >= 15


def test_the_operators_own_glibc_setting_wins(monkeypatch):
    from config.memory import tune_allocator

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert tune_allocator() is False
