"""Platform-level tasks: a round trip through the broker, used by health checks and tests."""

from celery import shared_task


@shared_task(name="config.echo")
def echo(value: str) -> str:
    """Return `value` unchanged: proves a worker took the message and stored a result."""
    return value
