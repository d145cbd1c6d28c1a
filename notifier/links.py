"""Links a notification carries: the scene, the run, and signed batch downloads."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from subscriptions.models import Scene, SceneRun


def run_links(scene: "Scene", run: "SceneRun") -> dict[str, str]:
    """Absolute URLs for the scene page, the run's diff page and its downloads."""
    from notifier.tokens import make_download_token

    base = current_app.config["SCENEWATCH"].base_url
    links = {
        "scene": f"{base}/scenes/{scene.id}",
        "run": f"{base}/scenes/{scene.id}/runs/{run.id}",
        "feed": f"{base}/feeds/{scene.feed_token}.atom",
    }
    for selection in ("added", "changed", "all"):
        links[f"download_{selection}"] = f"{base}/downloads/{make_download_token(run.id, selection)}"
    return links
