"""Wiring: settings, extensions, the app factory, the Celery app and the scheduler."""
