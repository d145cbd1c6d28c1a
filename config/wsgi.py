"""WSGI entry for production: ``gunicorn 'config.wsgi:app'``."""
from __future__ import annotations

from config.app import create_app

app = create_app()
