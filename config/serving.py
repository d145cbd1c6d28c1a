"""The built-in HTTP server of ``scenewatch serve`` (gunicorn serves production)."""
from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without the ``Server: Werkzeug/x.y Python/x.y`` banner:
    version numbers only help an attacker pick an exploit."""

    server_version = "scenewatch"

    def version_string(self) -> str:
        return self.server_version
