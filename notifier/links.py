"""Links a notification carries: the scene, the run, and signed batch downloads."""
from __future__ import annotations

from datetime import datetime

from config.extensions import settings as bound_settings
from config.settings import Settings


def run_links(scene_id: int, run_id: int, feed_token: str, settings: Settings | None = None, *,
              run_started_at: datetime) -> dict[str, str]:
    """Absolute URLs for the scene page, the run's diff page, the scene's feed and the
    run's downloads (``settings``: default the settings in force). Download links bind
    the run's start (``run_started_at``) besides its id."""
    from notifier.tokens import make_download_token

    settings = bound_settings.resolve(settings)
    base = settings.base_url
    links = {
        "scene": f"{base}/scenes/{scene_id}",
        "run": f"{base}/scenes/{scene_id}/runs/{run_id}",
        "feed": f"{base}/feeds/{feed_token}.atom",
    }
    for selection in ("added", "changed", "all"):
        token = make_download_token(run_id, selection, settings, started_at=run_started_at)
        links[f"download_{selection}"] = f"{base}/downloads/{token}"
    return links
