"""Bulk writes: backoff on overload, failures reported by id, nothing dropped.

The test server never answers 429, so a scripted stand-in plays the cluster here."""
from __future__ import annotations

from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, ConnectionError

from search.backends.elasticsearch.bulk import Action, BulkWriter, chunks

REJECTED = {"type": "es_rejected_execution_exception", "reason": "rejected execution of coordinating operation"}


def api_error(status: int) -> ApiError:
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(), duration=0.0,
                           node=NodeConfig("http", "localhost", 9200))
    return ApiError(message=f"status {status}", meta=meta, body={})


class ScriptedCluster:
    """Answers each bulk call with the next scripted behaviour: a callable that gets
    the action heads and returns per-item (status, error) pairs, or an exception."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.calls: list[list[str]] = []

    def bulk(self, operations: list[dict[str, Any]]) -> dict[str, Any]:
        heads = [op for op in operations if len(op) == 1 and next(iter(op)) in ("index", "create", "delete")]
        self.calls.append([next(iter(h.values()))["_id"] for h in heads])
        step = self.script.pop(0) if self.script else (lambda heads: [(201, None)] * len(heads))
        if isinstance(step, Exception):
            raise step
        items = []
        for head, (status, error) in zip(heads, step(heads), strict=False):
            op = next(iter(head))
            result: dict[str, Any] = {"_id": head[op]["_id"], "status": status}
            if error:
                result["error"] = error
            items.append({op: result})
        return {"errors": any("error" in next(iter(i.values())) for i in items), "items": items}


def actions(n: int) -> list[Action]:
    return [Action("index", "idx", f"d{i}", {"id": f"d{i}"}) for i in range(n)]


def test_items_rejected_for_load_are_retried_with_growing_delays() -> None:
    def reject_odd(heads):
        return [(429, REJECTED) if i % 2 else (201, None) for i in range(len(heads))]

    cluster = ScriptedCluster(reject_odd, reject_odd)
    delays: list[float] = []
    outcome = BulkWriter(cluster, sleep=delays.append).write(actions(8))  # type: ignore[arg-type]
    assert (outcome.indexed, outcome.failed) == (8, [])
    assert cluster.calls == [[f"d{i}" for i in range(8)], ["d1", "d3", "d5", "d7"], ["d3", "d7"]]
    assert len(delays) == 2 and 0.25 <= delays[0] <= 0.5 <= delays[1] <= 1.0  # doubling, with jitter


def test_a_whole_request_refused_with_429_is_retried() -> None:
    cluster = ScriptedCluster(api_error(429), api_error(503))
    delays: list[float] = []
    outcome = BulkWriter(cluster, sleep=delays.append).write(actions(3))  # type: ignore[arg-type]
    assert (outcome.indexed, outcome.failed, len(cluster.calls), len(delays)) == (3, [], 3, 2)


def test_lasting_overload_and_bad_documents_are_reported_by_id() -> None:
    def always(heads):
        out = []
        for head in heads:
            doc_id = next(iter(head.values()))["_id"]
            if doc_id == "d0":
                out.append((400, {"type": "mapper_parsing_exception", "reason": "failed to parse field [size]",
                                  "caused_by": {"type": "illegal_argument_exception", "reason": "For input string"}}))
            elif doc_id == "d1":
                out.append((429, REJECTED))
            else:
                out.append((201, None))
        return out

    cluster = ScriptedCluster(*[always] * 10)
    outcome = BulkWriter(cluster, max_attempts=3, sleep=lambda s: None).write(actions(4))  # type: ignore[arg-type]
    failed = dict(outcome.failed)
    assert outcome.indexed == 2 and set(failed) == {"d0", "d1"}
    assert failed["d0"].startswith("mapper_parsing_exception: failed to parse field [size]")
    assert "caused by illegal_argument_exception" in failed["d0"]
    assert failed["d1"].startswith("rejected 3 times") and "es_rejected_execution_exception" in failed["d1"]


def test_unreachable_cluster_fails_every_document_with_the_reason() -> None:
    cluster = ScriptedCluster(*[ConnectionError("connection refused")] * 3)
    outcome = BulkWriter(cluster, max_attempts=3, sleep=lambda s: None).write(actions(2))  # type: ignore[arg-type]
    assert [doc_id for doc_id, _ in outcome.failed] == ["d0", "d1"]
    assert all("connection refused" in reason for _, reason in outcome.failed)


def test_too_large_requests_are_split_and_other_client_errors_fail_the_chunk() -> None:
    cluster = ScriptedCluster(api_error(413))
    outcome = BulkWriter(cluster, sleep=lambda s: None).write(actions(4))  # type: ignore[arg-type]
    assert outcome.indexed == 4 and cluster.calls[1:] == [["d0", "d1"], ["d2", "d3"]]
    cluster = ScriptedCluster(api_error(403))
    outcome = BulkWriter(cluster, sleep=lambda s: None).write(actions(2))  # type: ignore[arg-type]
    assert [r for _, r in outcome.failed] == ["HTTP 403: status 403"] * 2


def test_deletes_of_unknown_ids_and_creates_of_existing_ones_are_not_failures() -> None:
    cluster = ScriptedCluster(lambda heads: [(404, None), (409, {"type": "version_conflict_engine_exception"})])
    outcome = BulkWriter(cluster).write(  # type: ignore[arg-type]
        [Action("delete", "idx", "gone"), Action("create", "idx", "there", {"id": "there"})])
    assert (outcome.not_found, outcome.existing, outcome.failed) == (1, 1, [])


@pytest.mark.parametrize("max_actions,max_bytes,expected", [(2, 10**6, [2, 2, 1]), (100, 100, [1, 1, 1, 1, 1])])
def test_chunks_respect_count_and_size(max_actions: int, max_bytes: int, expected: list[int]) -> None:
    assert [len(c) for c in chunks(actions(5), max_actions, max_bytes)] == expected
