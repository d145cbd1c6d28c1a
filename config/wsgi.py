"""WSGI entry for production: ``gunicorn -c python:config.gunicorn_conf 'config.wsgi:app'``."""
from __future__ import annotations

from config.app import create_app
from config.settings import load_settings
from config.startup import refuse_unsafe_start

_settings = load_settings()
refuse_unsafe_start(_settings, "web")
app = create_app(_settings)
