"""gunicorn settings for production: ``gunicorn -c python:config.gunicorn_conf …``.

Logs are JSON lines (error log on stderr, access log on stdout, see
:mod:`config.gunicorn_logging`), and the master refuses to start, with one line,
when the configuration could not work (:mod:`config.startup`). Worker counts, bind
address and timeouts stay on the command line, where the README shows them.
"""
from __future__ import annotations

from config.settings import load_settings
from config.startup import refuse_unsafe_start

# Read when gunicorn loads this file, before it logs or forks anything.
_settings = load_settings()
refuse_unsafe_start(_settings, "web")

logger_class = "config.gunicorn_logging.JsonLogger"
accesslog = "-"
errorlog = "-"
loglevel = _settings.log_level
