"""Entry point for Celery workers: ``celery -A config.worker worker -Q harvest,scenes,delivery``."""
from __future__ import annotations

from config.app import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]

import notifier.tasks  # noqa: E402,F401  (register tasks)
import search.tasks  # noqa: E402,F401
import subscriptions.tasks  # noqa: E402,F401
