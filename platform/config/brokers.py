"""Choosing the Celery broker for the embedded run, where Redis may or may not be there."""

import socket
from pathlib import Path
from urllib.parse import urlsplit


def redis_reachable(url: str, timeout: float = 0.3) -> bool:
    """True when a TCP connection to the Redis URL's host and port opens within `timeout`."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout):
            return True
    except OSError:
        return False


def filesystem_transport_options(root: Path) -> dict[str, object]:
    """Kombu's filesystem transport: messages are files in one folder shared by all processes."""
    queue = root / "queue"
    processed = root / "processed"
    # Broadcast (worker control, health pings) exchanges; kombu's default is ./control.
    control = root / "control"
    for folder in (queue, processed, control):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "control_folder": str(control),
        "store_processed": "False",
    }
