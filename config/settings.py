"""Every ``SCENEWATCH_*`` setting, read from the environment in one place.

The README's configuration table lists the same names and defaults; keep both true.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:  # a clear message beats a traceback at start-up
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from exc


def _share(env: dict[str, str], name: str, default: float) -> float:
    """A share between 0 and 1, written ``0.2`` or ``20%``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a share such as 0.2 or 20%, got {raw!r}") from exc
    if not 0 <= value <= 1:
        raise SystemExit(f"{name} must be between 0 and 1 (or 0% and 100%), got {raw!r}")
    return value


DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)


@dataclass(frozen=True)
class Settings:
    """The service's configuration; build it with :func:`load_settings`."""

    data_dir: Path
    database_url: str
    search_url: str = ""
    search_index: str = "scenewatch-datasets"
    # SCENEWATCH_SEARCH_BACKEND as given ('' chooses; see search_backend).
    search_backend_name: str = ""
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    # True when SCENEWATCH_BASE_URL was given; else base_url follows where `serve` listens.
    base_url_set: bool = False
    env: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    broker_url: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_security: str = "starttls"
    mail_from: str = "scenewatch <scenewatch@localhost>"
    # Production keeps mail in the Maildir outbox only when asked to (no SMTP server).
    mail_outbox: bool = False
    webhook_allow_private: bool = True
    webhook_timeout: int = 15
    webhook_retry_schedule: tuple[int, ...] = DEFAULT_RETRY_SCHEDULE
    # Seconds a claimed attempt stays invisible to other workers (0: derived from the timeout).
    delivery_lease: int = 0
    # Parallel sends in one delivery batch (`deliveries flush`, the delivery tick).
    delivery_concurrency: int = 16
    download_ttl: int = 7 * 24 * 3600
    # Share of a source's datasets one harvest may remove before it is held as suspect.
    harvest_max_removal: float = 0.2
    # Fetching URL sources (search/harvest/http.py): limits of one harvest's download.
    harvest_timeout: int = 1800
    harvest_max_bytes: int = 512 * 1024 * 1024
    harvest_connect_timeout: int = 15
    harvest_read_timeout: int = 60
    harvest_min_speed: int = 1024
    harvest_speed_window: int = 60
    harvest_retries: int = 3
    harvest_allow_private: bool = True
    # Harvester behaviour: CKAN full listing period, DCAT RDF literal languages.
    harvest_full_every: int = 24 * 3600
    harvest_languages: tuple[str, ...] = ("zh", "en")
    # Days a run's full diff and a notification's body and delivery log are kept;
    # older ones are compacted to their counts (0: keep everything).
    retention_days: int = 90
    # UTC time of day (hour, minute) of the nightly full run of every on-change scene
    # (None: never).
    recompute_at: tuple[int, int] | None = (2, 40)
    scheduler_enabled: bool = True
    default_locale: str = "zh"
    log_level: str = "info"
    # Requests per API token (Flask-Limiter notation, e.g. "300/minute;5000/hour").
    api_rate_limit: str = "300/minute"
    # Rate limits (flask-limiter syntax, e.g. "10 per 15 minutes") and where they count.
    ratelimit_storage: str = ""
    login_limit_account: str = "10 per 15 minutes"
    login_limit_address: str = "50 per 15 minutes"
    confirm_mail_limit: str = "3 per hour"
    webhook_test_limit: str = "10 per 10 minutes"
    # Reverse proxies in front of the web process whose X-Forwarded-For/-Proto to trust.
    trusted_proxies: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def embedded(self) -> bool:
        """True when no broker is configured: tasks run in-process."""
        return not self.broker_url

    @property
    def search_backend(self) -> str:
        """sqlite, postgres or elasticsearch (see :func:`resolve_search_backend`)."""
        return resolve_search_backend(self.search_backend_name, self.database_url, self.search_url)

    @property
    def ratelimit_storage_uri(self) -> str:
        """Where rate limits count: the configured storage, else the Redis broker (all
        web processes share it), else this process's memory."""
        if self.ratelimit_storage:
            return self.ratelimit_storage
        if self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return "memory://"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def search_database_url(self) -> str:
        """Where the embedded FTS5 index lives: the same SQLite file as the store when
        the store is SQLite, otherwise a file of its own in the data dir."""
        if self.database_url.startswith("sqlite"):
            return self.database_url
        return f"sqlite:///{self.data_dir / 'search.sqlite'}"


def listening_url(host: str, port: int) -> str:
    """The URL people reach ``serve`` at when it listens on ``host``:``port`` (an
    all-interfaces bind is reached on this machine as 127.0.0.1)."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else "[::1]" if host == "::" else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _secret_key(data_dir: Path, configured: str) -> str:
    """Use the configured key, else one generated once and kept in the data dir, so
    signed links survive restarts of the embedded default."""
    if configured:
        return configured
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _rate(env: dict[str, str], name: str, default: str) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be a rate such as '10 per 15 minutes', got {raw!r}") from exc
    return raw


def _retry_schedule(raw: str) -> tuple[int, ...]:
    if not raw.strip():
        return DEFAULT_RETRY_SCHEDULE
    try:
        steps = tuple(int(float(part)) for part in raw.split(",") if part.strip())
    except ValueError as exc:
        raise SystemExit(
            f"SCENEWATCH_WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds, got {raw!r}"
        ) from exc
    if any(step < 0 for step in steps):
        raise SystemExit("SCENEWATCH_WEBHOOK_RETRY_SCHEDULE must not contain negative delays")
    return steps


def _languages(raw: str) -> tuple[str, ...]:
    languages = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    return languages or ("zh", "en")


SEARCH_BACKENDS = ("sqlite", "postgres", "elasticsearch")
LOG_LEVELS = ("debug", "info", "warning", "error")


def resolve_search_backend(raw: str, database_url: str, search_url: str) -> str:
    """The search backend to use: the one named, else Elasticsearch when a URL is set,
    else the relational store's own (PostgreSQL or the embedded SQLite FTS5 index).

    Refuses a PostgreSQL store with an SQLite index: the index would be a file on one
    machine, which harvests and runs on the others would never see."""
    name = raw.strip().lower()
    postgres = database_url.startswith("postgresql")
    if name and name not in SEARCH_BACKENDS:
        raise SystemExit(
            f"SCENEWATCH_SEARCH_BACKEND must be one of {', '.join(SEARCH_BACKENDS)}, got {raw!r}"
        )
    if not name:
        name = "elasticsearch" if search_url else "postgres" if postgres else "sqlite"
    if name == "elasticsearch" and not search_url:
        raise SystemExit("SCENEWATCH_SEARCH_BACKEND=elasticsearch needs SCENEWATCH_SEARCH_URL")
    if name == "postgres" and not postgres:
        raise SystemExit(
            "SCENEWATCH_SEARCH_BACKEND=postgres needs a PostgreSQL SCENEWATCH_DATABASE_URL"
        )
    if name == "sqlite" and postgres:
        raise SystemExit(
            "refusing a PostgreSQL store with a local SQLite search index "
            "(SCENEWATCH_SEARCH_BACKEND=sqlite): harvests on other machines would not "
            "update it; unset SCENEWATCH_SEARCH_BACKEND to keep the index in PostgreSQL, "
            "or set SCENEWATCH_SEARCH_URL for Elasticsearch"
        )
    return name


def _checked_search_backend(raw: str, database_url: str, search_url: str) -> str:
    """``raw`` normalised, after checking it can be resolved (else SystemExit)."""
    resolve_search_backend(raw, database_url, search_url)
    return raw.strip().lower()
def _rate_limit(raw: str) -> str:
    value = raw.strip() or "300/minute"
    try:
        from limits import parse_many

        parse_many(value)
    except ValueError as exc:
        raise SystemExit(f"SCENEWATCH_API_RATE_LIMIT must look like 300/minute, got {raw!r}") from exc
    return value


def _time_of_day(env: dict[str, str], name: str, default: tuple[int, int]) -> tuple[int, int] | None:
    """``HH:MM`` (24-hour, UTC) as (hour, minute); ``off`` gives None."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw == "off":
        return None
    hour, _, minute = raw.partition(":")
    if not (hour.isdigit() and minute.isdigit() and len(minute) == 2 and int(hour) < 24 and int(minute) < 60):
        raise SystemExit(f"{name} must be a time of day HH:MM (UTC) or off, got {raw!r}")
    return int(hour), int(minute)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read the ``SCENEWATCH_*`` environment into a :class:`Settings`."""
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("SCENEWATCH_DATA_DIR", "") or "instance").resolve()
    database_url = env.get("SCENEWATCH_DATABASE_URL", "").strip() or (
        f"sqlite:///{data_dir / 'scenewatch.sqlite'}"
    )
    mode = (env.get("SCENEWATCH_ENV", "") or "development").strip().lower()
    if mode not in {"development", "production"}:
        raise SystemExit(f"SCENEWATCH_ENV must be development or production, got {mode!r}")
    security = (env.get("SCENEWATCH_SMTP_SECURITY", "") or "starttls").strip().lower()
    if security not in {"starttls", "ssl", "none"}:
        raise SystemExit(f"SCENEWATCH_SMTP_SECURITY must be starttls, ssl or none, got {security!r}")
    host = env.get("SCENEWATCH_HOST", "").strip() or "127.0.0.1"
    port = _int(env, "SCENEWATCH_PORT", 8000)
    base_url = env.get("SCENEWATCH_BASE_URL", "").strip().rstrip("/")
    search_url = env.get("SCENEWATCH_SEARCH_URL", "").strip()
    log_level = (env.get("SCENEWATCH_LOG_LEVEL", "") or "info").strip().lower()
    if log_level not in LOG_LEVELS:
        raise SystemExit(f"SCENEWATCH_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        search_url=search_url,
        search_backend_name=_checked_search_backend(env.get("SCENEWATCH_SEARCH_BACKEND", ""), database_url, search_url),
        search_index=env.get("SCENEWATCH_SEARCH_INDEX", "").strip() or "scenewatch-datasets",
        secret_key=_secret_key(data_dir, env.get("SCENEWATCH_SECRET_KEY", "").strip()),
        # Links in mail and webhooks must reach this server: by default, where it listens.
        base_url=base_url or listening_url(host, port),
        base_url_set=bool(base_url),
        env=mode,
        host=host,
        port=port,
        broker_url=env.get("SCENEWATCH_BROKER_URL", "").strip(),
        smtp_host=env.get("SCENEWATCH_SMTP_HOST", "").strip(),
        smtp_port=_int(env, "SCENEWATCH_SMTP_PORT", 587),
        smtp_user=env.get("SCENEWATCH_SMTP_USER", "").strip(),
        smtp_password=env.get("SCENEWATCH_SMTP_PASSWORD", ""),
        smtp_security=security,
        mail_from=env.get("SCENEWATCH_MAIL_FROM", "").strip() or "scenewatch <scenewatch@localhost>",
        mail_outbox=_flag(env.get("SCENEWATCH_MAIL_OUTBOX"), False),
        # Private targets are fine on a laptop (the receiver is usually local) and
        # refused in production, where they would be an SSRF hole.
        webhook_allow_private=_flag(env.get("SCENEWATCH_WEBHOOK_ALLOW_PRIVATE"), mode != "production"),
        webhook_timeout=_int(env, "SCENEWATCH_WEBHOOK_TIMEOUT", 15),
        webhook_retry_schedule=_retry_schedule(env.get("SCENEWATCH_WEBHOOK_RETRY_SCHEDULE", "")),
        delivery_lease=max(0, _int(env, "SCENEWATCH_DELIVERY_LEASE", 0)),
        delivery_concurrency=max(1, _int(env, "SCENEWATCH_DELIVERY_CONCURRENCY", 16)),
        download_ttl=_int(env, "SCENEWATCH_DOWNLOAD_TTL", 7 * 24 * 3600),
        harvest_max_removal=_share(env, "SCENEWATCH_HARVEST_MAX_REMOVAL", 0.2),
        harvest_timeout=max(1, _int(env, "SCENEWATCH_HARVEST_TIMEOUT", 1800)),
        harvest_max_bytes=max(1, _int(env, "SCENEWATCH_HARVEST_MAX_BYTES", 512 * 1024 * 1024)),
        harvest_connect_timeout=max(1, _int(env, "SCENEWATCH_HARVEST_CONNECT_TIMEOUT", 15)),
        harvest_read_timeout=max(1, _int(env, "SCENEWATCH_HARVEST_READ_TIMEOUT", 60)),
        harvest_min_speed=max(0, _int(env, "SCENEWATCH_HARVEST_MIN_SPEED", 1024)),
        harvest_speed_window=max(1, _int(env, "SCENEWATCH_HARVEST_SPEED_WINDOW", 60)),
        harvest_retries=max(0, _int(env, "SCENEWATCH_HARVEST_RETRIES", 3)),
        # Like webhooks: an intranet portal is fine on a laptop, an SSRF hole in production.
        harvest_allow_private=_flag(env.get("SCENEWATCH_HARVEST_ALLOW_PRIVATE"), mode != "production"),
        harvest_full_every=max(0, _int(env, "SCENEWATCH_HARVEST_FULL_EVERY", 24 * 3600)),
        harvest_languages=_languages(env.get("SCENEWATCH_HARVEST_LANGUAGES", "")),
        retention_days=max(0, _int(env, "SCENEWATCH_RETENTION_DAYS", 90)),
        recompute_at=_time_of_day(env, "SCENEWATCH_RECOMPUTE_AT", (2, 40)),
        scheduler_enabled=_flag(env.get("SCENEWATCH_SCHEDULER"), True),
        default_locale=(env.get("SCENEWATCH_LOCALE", "") or "zh").strip(),
        log_level=log_level,
        api_rate_limit=_rate_limit(env.get("SCENEWATCH_API_RATE_LIMIT", "")),
        ratelimit_storage=env.get("SCENEWATCH_RATELIMIT_STORAGE", "").strip(),
        login_limit_account=_rate(env, "SCENEWATCH_LOGIN_LIMIT_ACCOUNT", "10 per 15 minutes"),
        login_limit_address=_rate(env, "SCENEWATCH_LOGIN_LIMIT_ADDRESS", "50 per 15 minutes"),
        confirm_mail_limit=_rate(env, "SCENEWATCH_CONFIRM_MAIL_LIMIT", "3 per hour"),
        webhook_test_limit=_rate(env, "SCENEWATCH_WEBHOOK_TEST_LIMIT", "10 per 10 minutes"),
        trusted_proxies=max(0, _int(env, "SCENEWATCH_TRUSTED_PROXIES", 0)),
    )
