"""Tune glibc's allocator for processes that handle half-megabyte buffers all day.

By default glibc serves a large allocation (a CT frame, a DICOM file, a slice as a NumPy
array) with a fresh mmap and unmaps it when freed, and trims the heap back to the kernel once
a little is free at its top (its thresholds adapt, but only up to a point): new buffers then
come with fresh pages the kernel must map and zero. Serving buffers under MMAP_THRESHOLD from
the heap, and trimming only past TRIM_THRESHOLD, reuses the same pages instead; the price is
up to TRIM_THRESHOLD of freed memory kept per malloc arena. On the 2-core VM this project is
measured on, a rendered CT frame took 2.2 ms of CPU untuned and 0.6 ms tuned.

The `config` package calls `tune_allocator()` when it is first imported, before Django: the
web, worker, beat and manage.py processes all import it first. glibc's own environment
variables (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_) win when an operator sets them.
"""

import ctypes
import os

MMAP_THRESHOLD = 4 * 1024**2  # a labelmap (tens of MB) still gets its own mapping
TRIM_THRESHOLD = 32 * 1024**2
# mallopt() parameters, from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
GLIBC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def tune_allocator() -> bool:
    """Apply the thresholds; False where they were not applied (not glibc, or set by env)."""
    if any(os.environ.get(name) for name in GLIBC_VARIABLES):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl and macOS differ): leave it be
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # Both or neither: a high mmap threshold alone would leave the trimming to undo it.
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
