"""DCAT in RDF: the same real records as Turtle, RDF/XML and JSON-LD (written here with
rdflib from the data.json catalog) give the same datasets as the data.json harvest;
multilingual literals follow the preferred languages; nothing is fetched while parsing.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS
from sqlalchemy import select

from search.harvest import HarvestError, run_harvest
from search.harvest.dcat_rdf import rdf_records
from search.harvest.detect import sniff_format
from search.models import Dataset
from tests.search.conftest import HARVEST_FIXTURES

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
BASE = "http://datos.example/"
SYNTAXES = {"turtle": "catalog.ttl", "xml": "catalog.rdf", "json-ld": "catalog.jsonld"}
COMPARED = ("title", "description", "publisher", "region", "open_type", "update_frequency",
            "license", "created", "modified", "landing_page", "machine_readable", "record_count")
BAD_IRI = set(' <>"{}|\\^`\n\r\t')


def _node(value: Any) -> URIRef | Literal:
    text = str(value)
    if text.startswith(("http://", "https://")) and not BAD_IRI.intersection(text):
        return URIRef(text)
    return Literal(text)


def catalog_graph(catalog: dict[str, Any]) -> Graph:
    """A data.json catalog as a DCAT graph, field for field."""
    graph = Graph()
    labels = {str(t.get("id")): t.get("label") for t in catalog.get("themeTaxonomy") or []
              if isinstance(t, dict)}
    root = URIRef(BASE + "catalog")
    graph.add((root, RDF.type, DCAT.Catalog))
    if catalog.get("license"):
        graph.add((root, DCTERMS.license, Literal(str(catalog["license"]))))
    for dataset in catalog.get("dataset") or []:
        node = URIRef(BASE + "dataset/" + quote(str(dataset["identifier"]), safe=""))
        graph.add((root, DCAT.dataset, node))
        graph.add((node, RDF.type, DCAT.Dataset))
        graph.add((node, DCTERMS.identifier, Literal(str(dataset["identifier"]))))
        for key, predicate in (("title", DCTERMS.title), ("description", DCTERMS.description),
                               ("accessLevel", DCTERMS.accessRights), ("license", DCTERMS.license),
                               ("accrualPeriodicity", DCTERMS.accrualPeriodicity),
                               ("issued", DCTERMS.issued), ("modified", DCTERMS.modified)):
            if dataset.get(key) not in (None, ""):
                graph.add((node, predicate, Literal(str(dataset[key]))))
        if dataset.get("landingPage"):
            graph.add((node, DCAT.landingPage, _node(dataset["landingPage"])))
        publisher = dataset.get("publisher") or {}
        if isinstance(publisher, dict) and (publisher.get("name") or publisher.get("fn")):
            agent = BNode()
            graph.add((node, DCTERMS.publisher, agent))
            graph.add((agent, FOAF.name, Literal(str(publisher.get("name") or publisher.get("fn")))))
        for keyword in dataset.get("keyword") or []:
            graph.add((node, DCAT.keyword, Literal(str(keyword))))
        for theme in dataset.get("theme") or []:
            concept = URIRef(BASE + "theme/" + quote(str(theme), safe=""))
            graph.add((node, DCAT.theme, concept))
            graph.add((concept, SKOS.prefLabel, Literal(str(labels.get(str(theme)) or theme))))
        for distribution in dataset.get("distribution") or []:
            part = BNode()
            graph.add((node, DCAT.distribution, part))
            title = distribution.get("title") or distribution.get("fileName")
            if title:
                graph.add((part, DCTERMS.title, Literal(str(title))))
            fmt = distribution.get("format") or distribution.get("mediaType")
            if fmt:
                graph.add((part, DCTERMS.format, Literal(str(fmt))))
            for key, predicate in (("downloadURL", DCAT.downloadURL), ("accessURL", DCAT.accessURL)):
                if distribution.get(key):
                    graph.add((part, predicate, _node(distribution[key])))
            if distribution.get("byteSize") not in (None, ""):
                graph.add((part, DCAT.byteSize, Literal(str(distribution["byteSize"]))))
    return graph


def _rows(db: Any, source: str) -> dict[str, dict[str, Any]]:
    with db.session() as session:
        found = session.scalars(select(Dataset).where(Dataset.source == source)).all()
        rows = {}
        for row in found:
            fields = {name: getattr(row, name) for name in COMPARED}
            for name in ("themes", "tags", "formats"):
                fields[name] = sorted(getattr(row, name) or [])
            fields["resources"] = sorted(json.dumps(r, sort_keys=True) for r in row.resources or [])
            rows[row.native_id] = fields
        return rows


def _same_datasets(store: Any, catalog_path: Path, catalog: dict[str, Any], tmp_path: Path) -> int:
    reference = run_harvest("dj", str(catalog_path))
    assert reference.format == "dcat-json"
    expected = _rows(store, "dj")
    graph = catalog_graph(catalog)
    for syntax, name in SYNTAXES.items():
        path = tmp_path / name
        path.write_bytes(graph.serialize(format=syntax, encoding="utf-8"))
        source = f"rdf-{syntax}"
        summary = run_harvest(source, str(path))  # auto-detected
        assert summary.format == "dcat-rdf", (syntax, summary.format)
        assert (summary.seen, summary.new, summary.quarantined) == \
            (reference.seen, reference.new, reference.quarantined), syntax
        got = _rows(store, source)
        assert got.keys() == expected.keys(), syntax
        for native_id, fields in expected.items():
            assert got[native_id] == fields, (syntax, native_id)
    return len(expected)


def test_three_rdf_syntaxes_give_the_datajson_datasets(store: Any, tmp_path: Path) -> None:
    path = HARVEST_FIXTURES / "argentina_justicia.json"
    assert _same_datasets(store, path, json.loads(path.read_text()), tmp_path) == 3


@pytest.mark.realdata
def test_datos_gob_ar_in_three_rdf_syntaxes(store: Any, tmp_path: Path) -> None:
    path = SHARED / "datajson-argentina" / "datos.gob.ar_data.json_2019-04-08.json.gz"
    assert _same_datasets(store, path, json.loads(gzip.decompress(path.read_bytes())), tmp_path) > 800


MULTILINGUAL = """@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
<http://portal.example/d/1> a dcat:Dataset ;
    dct:identifier "d1" ;
    dct:title "Transporte público"@es, "Public transport"@en, "公共交通"@zh-CN, "Öffentlicher Verkehr"@de ;
    dct:description "Untagged description" ;
    dcat:keyword "bus"@en, "autobús"@es, "transit"@en ;
    dct:accrualPeriodicity <http://purl.org/cld/freq/monthly> .
"""


def test_multilingual_literals_follow_the_preferred_languages() -> None:
    def first(languages: tuple[str, ...]) -> dict[str, Any]:
        return rdf_records(MULTILINGUAL.encode(), "c.ttl", "c.ttl", languages)[0].mapped or {}

    assert first(("zh", "en"))["title"] == ["公共交通"]
    assert first(("es",))["title"] == ["Transporte público"]
    assert first(("fr", "en"))["title"] == ["Public transport"]
    assert first(("fr",))["title"] == ["Öffentlicher Verkehr"]  # no fr, none untagged: by tag (de)
    assert first(("fr",))["description"] == ["Untagged description"]
    assert first(("en",))["tags"] == ["bus", "transit"]
    assert first(("es",))["tags"] == ["autobús"]
    assert first(("en",))["update_frequency"] == ["monthly"]
    assert sniff_format("c.ttl", MULTILINGUAL.encode()) == "dcat-rdf"


def test_the_language_setting_reaches_the_harvest(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from config.cli import cli

    (tmp_path / "c.ttl").write_text(MULTILINGUAL, encoding="utf-8")
    env = {"SCENEWATCH_DATA_DIR": str(tmp_path / "instance"), "SCENEWATCH_HARVEST_LANGUAGES": "de,en"}
    runner = CliRunner()
    assert runner.invoke(cli, ["harvest", "ml", str(tmp_path / "c.ttl")], env=env).exit_code == 0
    found = runner.invoke(cli, ["search", "--json"], env=env)
    assert json.loads(found.stdout)["hits"][0]["title"] == "Öffentlicher Verkehr"


def test_nothing_is_fetched_while_parsing() -> None:
    remote = json.dumps({"@context": "http://169.254.169.254/context.jsonld",
                         "@graph": [{"@id": "x", "@type": "dcat:Dataset"}]}).encode()
    with pytest.raises(HarvestError, match="remote JSON-LD context"):
        rdf_records(remote, "c.jsonld", "c.jsonld")
    entities = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">&x;</rdf:RDF>')
    with pytest.raises(HarvestError, match="declares XML entities"):
        rdf_records(entities, "c.rdf", "c.rdf")
    with pytest.raises(HarvestError, match="no dcat:Dataset"):
        rdf_records(b"@prefix ex: <http://e/> . ex:a ex:b ex:c .", "c.ttl", "c.ttl")
    with pytest.raises(HarvestError, match="not valid turtle RDF"):
        rdf_records(b"@prefix ex: <http://e/> . ex:a ex:b", "c.ttl", "c.ttl")
