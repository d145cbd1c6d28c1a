"""DCAT catalogs in RDF (Turtle, RDF/XML, JSON-LD), read with rdflib.

Every ``dcat:Dataset`` becomes a record mapped like a ``data.json`` dataset:
``dct:identifier`` (else the dataset's IRI) is the native id; ``dct:title``,
``dct:description``; ``dct:publisher`` (its ``foaf:name``); ``dcat:keyword`` → tags;
``dcat:theme`` (its ``skos:prefLabel``) → themes; ``dcat:distribution`` → resources
{``dct:title``, ``dct:format`` / ``dcat:mediaType``, ``dcat:downloadURL`` /
``dcat:accessURL``, ``dcat:byteSize``}; ``dct:accrualPeriodicity``; ``dct:license``
(else the catalog's); ``dct:accessRights`` → open type; ``dct:issued`` / ``dct:modified``;
``dcat:landingPage``.

Multilingual literals are resolved by a preferred-language list (settings:
``SCENEWATCH_HARVEST_LANGUAGES``): the first preferred language present, else an
untagged literal, else the first in a fixed order. RDF has no order, so multi-valued
fields come out sorted: the same catalog always gives the same content hash.

Nothing is fetched while parsing: a JSON-LD document naming a remote ``@context`` and
an RDF/XML document declaring entities are refused, not resolved.
"""
from __future__ import annotations

import json
import re
from typing import Any

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, RDFS, SKOS
from rdflib.term import Node

from search.harvest.records import HarvestError, SourceRecord

SYNTAXES = {".ttl": "turtle", ".n3": "n3", ".nt": "nt", ".rdf": "xml", ".xml": "xml",
            ".owl": "xml", ".jsonld": "json-ld", ".json": "json-ld"}
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


def is_jsonld(values: list[Any]) -> bool:
    """True for JSON-LD RDF (an ``@graph``, or IRI / prefixed keys), not DCAT-US data.json."""
    if len(values) != 1:
        return False
    value = values[0]
    items = value if isinstance(value, list) else [value]
    for item in items[:20]:
        if not isinstance(item, dict):
            return False
        if "@graph" in item:
            return True
        if any(":" in str(key) and not str(key).startswith("@") for key in item):
            return True
    return False


def syntax_of(name: str, content: bytes) -> str:
    """The rdflib parser for a document, from its first bytes, then its name."""
    head = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"{", b"[")):
        return "json-ld"
    if head.startswith(b"<"):
        return "xml"
    if re.match(rb"(@prefix|@base|prefix|base)\b", head, re.IGNORECASE):
        return "turtle"
    for suffix, syntax in SYNTAXES.items():
        if name.lower().endswith(suffix):
            return syntax
    return "turtle"


def _remote_contexts(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("@context", "@import"):
                contexts = inner if isinstance(inner, list) else [inner]
                found.extend(c for c in contexts if isinstance(c, str))
            found.extend(_remote_contexts(inner))
    elif isinstance(value, list):
        for inner in value:
            found.extend(_remote_contexts(inner))
    return found


def _parse(content: bytes, name: str, location: str) -> Graph:
    syntax = syntax_of(name, content)
    if syntax == "json-ld":
        try:
            remote = _remote_contexts(json.loads(content))
        except (ValueError, UnicodeDecodeError) as exc:
            raise HarvestError(f"{location} is not valid JSON-LD: {exc}") from None
        if remote:
            raise HarvestError(f"{location} names a remote JSON-LD context ({remote[0]}); "
                               "scenewatch does not fetch contexts: inline it")
    if syntax == "xml" and _ENTITY.search(content[:1 << 20]):
        raise HarvestError(f"{location} declares XML entities; refused (they can expand "
                           "without bound or read local files)")
    graph = Graph()
    try:
        graph.parse(data=content, format=syntax, publicID="urn:scenewatch:catalog")
    except Exception as exc:  # noqa: BLE001 - every parser has its own error classes
        text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise HarvestError(f"{location} is not valid {syntax} RDF: {text}") from None
    return graph


def pick_literal(values: list[Node], languages: tuple[str, ...]) -> str | None:
    """One text for a property: preferred language first, then untagged, then any."""
    literals = sorted((v for v in values if isinstance(v, Literal)), key=lambda v: (v.language or "", str(v)))
    if not literals:
        return None
    for language in languages:
        for literal in literals:
            tag = (literal.language or "").lower()
            if tag == language or tag.split("-")[0] == language:
                return str(literal)
    untagged = [lit for lit in literals if not lit.language]
    return str((untagged or literals)[0])


def _texts(values: list[Node], languages: tuple[str, ...]) -> list[str]:
    """Every value of a multi-valued property, in the preferred language when tagged."""
    literals = [v for v in values if isinstance(v, Literal)]
    tagged = {(v.language or "").lower().split("-")[0] for v in literals if v.language}
    wanted = next((lang for lang in languages if lang in tagged), None)
    chosen = [str(v) for v in literals
              if not v.language or wanted is None or (v.language or "").lower().split("-")[0] == wanted]
    return sorted(set(chosen))


class _Reader:
    def __init__(self, graph: Graph, languages: tuple[str, ...]) -> None:
        self.graph = graph
        self.languages = languages

    def values(self, subject: Node, predicate: URIRef) -> list[Node]:
        return sorted(self.graph.objects(subject, predicate), key=str)  # a fixed order

    def text(self, subject: Node, predicate: URIRef) -> str | None:
        return pick_literal(self.values(subject, predicate), self.languages)

    def label(self, node: Node, tail: bool = False) -> str | None:
        """A literal as is; a resource by its label (or name), else its IRI (or, with
        ``tail``, the IRI's last segment: ``…/freq/monthly`` → ``monthly``)."""
        if isinstance(node, Literal):
            return str(node)
        for predicate in (SKOS.prefLabel, RDFS.label, FOAF.name, DCTERMS.title):
            found = self.text(node, predicate)
            if found:
                return found
        if not isinstance(node, URIRef):
            return None
        return re.split(r"[/#]", str(node).rstrip("/#"))[-1] if tail else str(node)

    def first(self, subject: Node, *predicates: URIRef, iri: bool = False,
              tail: bool = False) -> str | None:
        """The first usable value: an IRI as is when ``iri``, else a label."""
        for predicate in predicates:
            for node in self.values(subject, predicate):
                found = str(node) if iri and isinstance(node, URIRef) else self.label(node, tail)
                if found:
                    return found
        return None

    def resource(self, node: Node) -> dict[str, Any]:
        size = self.first(node, DCAT.byteSize)
        return {"name": self.text(node, DCTERMS.title) or "",
                "format": self.first(node, DCTERMS.format, DCAT.mediaType, tail=True) or "",
                "url": self.first(node, DCAT.downloadURL, DCAT.accessURL, iri=True) or "",
                "size": size}

    def dataset(self, subject: Node, catalog_license: str | None) -> dict[str, list[Any]]:
        resources = sorted((self.resource(n) for n in self.values(subject, DCAT.distribution)),
                           key=lambda r: (r["url"], r["name"]))
        identifier = self.text(subject, DCTERMS.identifier) or str(subject)
        return {
            "native_id": [identifier],
            "title": [self.text(subject, DCTERMS.title)],
            "description": [self.text(subject, DCTERMS.description)],
            "publisher": [self.label(n) for n in self.values(subject, DCTERMS.publisher)][:1],
            "themes": sorted({t for t in (self.label(n) for n in self.values(subject, DCAT.theme)) if t}),
            "tags": _texts(self.values(subject, DCAT.keyword), self.languages),
            "formats": [r["format"] for r in resources],
            "resources": [resources],
            "open_type": [self.first(subject, DCTERMS.accessRights, tail=True)],
            "update_frequency": [self.first(subject, DCTERMS.accrualPeriodicity, tail=True)],
            "license": [self.first(subject, DCTERMS.license), catalog_license],
            "created": [self.first(subject, DCTERMS.issued)],
            "modified": [self.first(subject, DCTERMS.modified)],
            "landing_page": [self.first(subject, DCAT.landingPage, iri=True)],
        }


def rdf_records(content: bytes, name: str, location: str,
                languages: tuple[str, ...] = ("zh", "en")) -> list[SourceRecord]:
    """The ``dcat:Dataset`` resources of an RDF document as mapped records."""
    graph = _parse(bytes(content), name, location)
    reader = _Reader(graph, tuple(lang.lower() for lang in languages))
    catalogs = list(graph.subjects(RDF.type, DCAT.Catalog))
    catalog_license = reader.first(catalogs[0], DCTERMS.license) if catalogs else None
    subjects = sorted(set(graph.subjects(RDF.type, DCAT.Dataset)), key=str)
    if not subjects:
        raise HarvestError(f"{location} has no dcat:Dataset (is it a DCAT catalog?)")
    records = []
    for number, subject in enumerate(subjects, start=1):
        raw = {"@id": str(subject), "title": reader.text(subject, DCTERMS.title)}
        records.append(SourceRecord(position=f"dataset {number} ({subject})", raw=raw,
                                    mapped=reader.dataset(subject, catalog_license)))
    return records
