"""The one place that builds an Elasticsearch client.

``SCENEWATCH_SEARCH_URL`` names the cluster, and everything about the connection is
read from it (or from optional settings of the same name without the ``search_``
prefix, when they exist):

    https://user:password@es1.example.org:9200,https://es2.example.org:9200/?api_key=...
        &ca_certs=/etc/ssl/es-ca.pem&verify_certs=true&timeout=30&retries=3&compat=json

- user and password in the URL (percent-encoded) give basic auth; ``api_key`` (the
  base64 ``id:key`` form Elasticsearch hands out) takes precedence over them;
- ``verify_certs`` (default true) and ``ca_certs`` control TLS checks;
- ``timeout`` (seconds, default 30) and ``retries`` (default 3, on connection errors,
  timeouts and 429/502/503/504) bound every request;
- ``compat`` picks the media type: ``json`` (default) sends plain ``application/json``,
  which Elasticsearch 8 and 9 and the ``osmem-server`` test server all accept, whatever
  the client's major version; ``stack`` keeps the client's versioned
  ``compatible-with=N`` headers; ``serverless`` is Elastic Cloud Serverless.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from elastic_transport import HttpHeaders, Urllib3HttpNode
from elastic_transport.client_utils import DEFAULT, DefaultType
from elasticsearch import Elasticsearch

if TYPE_CHECKING:  # the node's answer type is not exported at the package's top level
    from elastic_transport._node import NodeApiResponse

COMPAT_MODES = ("json", "stack", "serverless")
RETRY_STATUSES = (429, 502, 503, 504)
_VENDOR_TYPE = re.compile(r"application/vnd\.elasticsearch\+([a-z-]+)(?:;\s*compatible-with=\d+)?")
_TRUE = {"1", "true", "yes", "on"}


class ClientConfigError(ValueError):
    """The search URL or its options cannot be used (message names the option)."""


class PlainJsonNode(Urllib3HttpNode):
    """A node that sends ``application/json`` instead of the versioned vendor type.

    The client asks for ``compatible-with=<its major>``; a server of another major
    (Elasticsearch 8 under a 9.x client) or an OpenSearch-compatible one refuses that
    with 400/406, while every one of them takes plain JSON.
    """

    def perform_request(self, method: str, target: str, body: bytes | None = None,
                        headers: HttpHeaders | None = None,
                        request_timeout: DefaultType | float | None = DEFAULT) -> NodeApiResponse:
        headers = plain_media_types(headers)
        return super().perform_request(method, target, body=body, headers=headers,
                                       request_timeout=request_timeout)


def plain_media_types(headers: HttpHeaders | None) -> HttpHeaders | None:
    """A copy of ``headers`` with ``application/vnd.elasticsearch+X; compatible-with=N``
    turned into ``application/X`` (the client's headers may be frozen: not changed)."""
    if not headers:
        return headers
    headers = headers.copy()
    for name in ("accept", "content-type"):
        if name in headers:
            headers[name] = _VENDOR_TYPE.sub(r"application/\1", headers[name])
    return headers


@dataclass(frozen=True)
class ClientOptions:
    """What :func:`make_client` connects with, parsed from the URL and settings."""

    hosts: tuple[str, ...]
    basic_auth: tuple[str, str] | None = None
    api_key: str | None = None
    verify_certs: bool = True
    ca_certs: str | None = None
    timeout: float = 30.0
    retries: int = 3
    compat: str = "json"

    def redacted_hosts(self) -> str:
        """The hosts without credentials, for logs and error messages."""
        return ",".join(self.hosts)


def parse_search_url(url: str, **overrides: Any) -> ClientOptions:
    """Read :class:`ClientOptions` from ``url``; non-empty ``overrides`` win."""
    if not url or not url.strip():
        raise ClientConfigError("SCENEWATCH_SEARCH_URL is empty")
    hosts: list[str] = []
    auth: tuple[str, str] | None = None
    params: dict[str, str] = {}
    for part in url.split(","):
        part = part.strip()
        if not part:
            continue
        if "://" not in part:
            part = "http://" + part
        split = urlsplit(part)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise ClientConfigError(
                f"search URL {_redact(part)!r} must look like http(s)://host:9200")
        if split.username is not None:
            auth = (unquote(split.username), unquote(split.password or ""))
        for key, values in parse_qs(split.query).items():
            params[key] = values[-1]
        netloc = split.hostname if ":" not in split.hostname else f"[{split.hostname}]"
        port = split.port or (443 if split.scheme == "https" else 9200)
        hosts.append(urlunsplit((split.scheme, f"{netloc}:{port}", split.path.rstrip("/"), "", "")))
    unknown = set(params) - {"api_key", "verify_certs", "ca_certs", "timeout", "retries", "compat"}
    if unknown:
        raise ClientConfigError(f"unknown search URL option(s): {', '.join(sorted(unknown))}")
    params.update({k: str(v) for k, v in overrides.items() if v not in (None, "")})
    compat = params.get("compat", "json").lower()
    if compat not in COMPAT_MODES:
        raise ClientConfigError(f"compat={compat!r} is not one of {', '.join(COMPAT_MODES)}")
    try:
        timeout = float(params.get("timeout", 30))
        retries = int(params.get("retries", 3))
    except ValueError as exc:
        raise ClientConfigError(f"timeout and retries must be numbers ({exc})") from None
    if "username" in params:
        auth = (params["username"], params.get("password", ""))
    return ClientOptions(
        hosts=tuple(hosts),
        basic_auth=auth,
        api_key=params.get("api_key") or None,
        verify_certs=params.get("verify_certs", "true").lower() in _TRUE,
        ca_certs=params.get("ca_certs") or None,
        timeout=timeout,
        retries=retries,
        compat=compat,
    )


def make_client(options: ClientOptions) -> Elasticsearch:
    """An :class:`Elasticsearch` client for ``options`` (no request is made yet)."""
    kwargs: dict[str, Any] = {
        "request_timeout": options.timeout,
        "max_retries": options.retries,
        "retry_on_timeout": True,
        "retry_on_status": RETRY_STATUSES,
    }
    if options.api_key:
        kwargs["api_key"] = options.api_key
    elif options.basic_auth:
        kwargs["basic_auth"] = options.basic_auth
    if any(host.startswith("https") for host in options.hosts):
        kwargs["verify_certs"] = options.verify_certs
        if options.ca_certs:
            kwargs["ca_certs"] = options.ca_certs
        if not options.verify_certs:
            kwargs["ssl_show_warn"] = False  # asked for explicitly; no warning per request
    if options.compat == "json":
        kwargs["node_class"] = PlainJsonNode
    elif options.compat == "serverless":
        kwargs["server_mode"] = "serverless"
    return Elasticsearch(list(options.hosts), **kwargs)


def client_from_settings(settings: Any) -> Elasticsearch:
    """The client for ``settings.search_url``; optional ``search_api_key``,
    ``search_username``/``search_password`` and ``search_ca_certs`` settings override
    what the URL says."""
    overrides = {
        "api_key": getattr(settings, "search_api_key", None),
        "username": getattr(settings, "search_username", None),
        "password": getattr(settings, "search_password", None),
        "ca_certs": getattr(settings, "search_ca_certs", None),
    }
    return make_client(parse_search_url(settings.search_url, **overrides))


def _redact(url: str) -> str:
    split = urlsplit(url)
    if split.password is None and split.username is None:
        return url
    host = split.hostname or ""
    if split.port:
        host += f":{split.port}"
    return urlunsplit((split.scheme, f"***@{host}", split.path, "", ""))
