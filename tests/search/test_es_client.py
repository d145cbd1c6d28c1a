"""The one client factory: what it reads from SCENEWATCH_SEARCH_URL and settings."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from elastic_transport import HttpHeaders

from search.backends.elasticsearch.client import (
    ClientConfigError,
    PlainJsonNode,
    client_from_settings,
    make_client,
    parse_search_url,
    plain_media_types,
)

pytest_plugins = ("tests.search.es_fixtures",)  # es_url, es_backend: one server for all


def test_url_with_credentials_options_and_several_hosts() -> None:
    options = parse_search_url(
        "https://ops:p%40ss%3Aword@es1.example.org:9243,es2.example.org/?timeout=5&retries=1&ca_certs=/etc/ca.pem")
    assert options.hosts == ("https://es1.example.org:9243", "http://es2.example.org:9200")
    assert options.basic_auth == ("ops", "p@ss:word")
    assert (options.timeout, options.retries, options.ca_certs, options.verify_certs) == (5.0, 1, "/etc/ca.pem", True)
    assert options.compat == "json" and "p@ss" not in options.redacted_hosts()


def test_api_key_and_settings_overrides() -> None:
    options = parse_search_url("https://u:p@es:9200?api_key=abc%3D%3D&verify_certs=false", api_key="",
                               username="svc", password="secret")
    assert options.api_key == "abc==" and options.verify_certs is False
    assert options.basic_auth == ("svc", "secret")  # settings win over the URL
    client = make_client(options)
    assert client.transport.node_pool.all()[0].config.scheme == "https"


@pytest.mark.parametrize("url,message", [
    ("", "empty"),
    ("ftp://es:9200", "must look like"),
    ("http://es:9200?colour=blue", "unknown search URL option"),
    ("http://es:9200?compat=v7", "compat"),
    ("http://es:9200?timeout=soon", "numbers"),
])
def test_bad_urls_are_refused_with_a_clear_message(url: str, message: str) -> None:
    with pytest.raises(ClientConfigError, match=message):
        parse_search_url(url)


def test_plain_json_media_types_replace_the_versioned_ones() -> None:
    headers = HttpHeaders({"accept": "application/vnd.elasticsearch+json; compatible-with=9",
                           "content-type": "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
                           "authorization": "ApiKey abc"})
    headers.freeze()
    plain = plain_media_types(headers)
    assert dict(plain or {}) == {"accept": "application/json", "content-type": "application/x-ndjson",
                                 "authorization": "ApiKey abc"}
    assert headers["accept"].startswith("application/vnd")  # the client's own headers untouched
    assert make_client(parse_search_url("http://es:9200")).transport.node_pool.node_class is PlainJsonNode


def test_the_default_client_talks_to_the_test_server(es_url: str) -> None:
    client = client_from_settings(SimpleNamespace(search_url=es_url))
    assert client.info()["version"]["number"]
    client.close()
