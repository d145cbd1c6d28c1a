"""A real Celery worker on the Redis broker that .ci/run provides, for the tests that
send work through the broker instead of running it in-process."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from notifier.receiver import VerifyingReceiver

ROOT = Path(__file__).resolve().parents[1]


def redis_broker_env(data_dir: Path) -> dict[str, str]:
    """Settings for an installation in ``data_dir`` whose broker is the test Redis db,
    emptied first so no stale task from another test is picked up."""
    url = os.environ.get("SCENEWATCH_TEST_REDIS_URL")
    if not url:
        pytest.fail("SCENEWATCH_TEST_REDIS_URL is not set (.ci/run sets it)")
    import redis

    redis.Redis.from_url(url).flushdb()
    return {"SCENEWATCH_DATA_DIR": str(data_dir), "SCENEWATCH_BROKER_URL": url,
            "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1"}


@contextmanager
def celery_worker(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A worker process on every queue, stopped (and waited for) on the way out."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config.worker", "worker", "-Q", "harvest,scenes,delivery",
         "--pool", "solo", "--loglevel", "WARNING"],
        env={**os.environ, **env}, cwd=ROOT)
    try:
        yield worker
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def wait_for_webhook(receiver: VerifyingReceiver, worker: subprocess.Popen[bytes],
                     seconds: float = 60) -> None:
    """Wait until the receiver has a webhook, failing at once if the worker dies."""
    deadline = time.monotonic() + seconds
    while not receiver.received and time.monotonic() < deadline:
        assert worker.poll() is None, "worker died"
        time.sleep(0.2)
