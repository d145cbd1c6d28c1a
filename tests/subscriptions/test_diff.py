"""The pure diff: added / removed (with reason) / changed field by field / moved."""
from __future__ import annotations

from subscriptions.diff import (
    DELETED_FROM_CATALOG,
    NO_LONGER_MATCHES,
    Member,
    compute_diff,
    field_changes,
    pair_moves,
)

TRACKED = ["title", "publisher", "formats", "modified", "resources", "landing_page"]


def member(dataset_id: str, version: int, **content: object) -> Member:
    base: dict[str, object] = {"title": dataset_id, "publisher": "局", "formats": ["csv"], "modified": "2023-01-01",
            "resources": [], "landing_page": f"https://portal.example/{dataset_id}"}
    base.update(content)
    return Member(dataset_id, version, base)


def test_added_removed_and_reasons() -> None:
    before = {"a": member("a", 1), "b": member("b", 2), "c": member("c", 3)}
    now = {"a": member("a", 1), "d": member("d", 4)}
    diff = compute_diff(before, now, TRACKED, deleted_ids={"c"})
    assert [m.dataset_id for m in diff.added] == ["d"]
    assert {(m.dataset_id, reason) for m, reason in diff.removed} == {
        ("b", NO_LONGER_MATCHES), ("c", DELETED_FROM_CATALOG)}
    assert diff.changed == [] and diff.moved == []


def test_changed_lists_each_tracked_field_with_old_and_new() -> None:
    before = {"a": member("a", 1)}
    now = {"a": member("a", 2, title="新标题", modified="2023-02-01", formats=["csv", "json"])}
    diff = compute_diff(before, now, TRACKED)
    (changed, changes), = diff.changed
    assert changed.dataset_id == "a"
    assert [(c.field, c.old, c.new) for c in changes] == [
        ("title", "a", "新标题"), ("formats", ["csv"], ["csv", "json"]), ("modified", "2023-01-01", "2023-02-01")]


def test_untracked_change_is_not_reported() -> None:
    before = {"a": member("a", 1)}
    now = {"a": member("a", 2, publisher="另一个局")}
    assert compute_diff(before, now, ["title"]).empty
    assert not compute_diff(before, now, ["publisher"]).empty


def test_format_order_is_not_a_change() -> None:
    assert field_changes({"formats": ["csv", "xls"]}, {"formats": ["xls", "csv"]}, ["formats"]) == []


def test_resources_diff_by_url() -> None:
    old = [{"url": "u1", "name": "a", "size": 1}, {"url": "u2", "name": "b"}]
    new = [{"url": "u1", "name": "a", "size": 2}, {"url": "u3", "name": "c"}]
    (change,) = field_changes({"resources": old}, {"resources": new}, ["resources"])
    detail = change.to_dict()
    assert [r["url"] for r in detail["added"]] == ["u3"]
    assert [r["url"] for r in detail["removed"]] == ["u2"]
    assert detail["changed"] == [{"url": "u1", "old": old[0], "new": new[0]}]


def test_rekeyed_dataset_is_moved_not_removed_and_added() -> None:
    before = {"old-1": member("old-1", 1, landing_page="https://p/x", title="交通流量")}
    now = {"new-1": member("new-1", 9, landing_page="https://p/x/", title="交通流量")}
    diff = compute_diff(before, now, TRACKED, deleted_ids={"old-1"})
    assert diff.added == [] and diff.removed == []
    ((old, new, changes),) = diff.moved
    assert (old.dataset_id, new.dataset_id) == ("old-1", "new-1")
    # Identity ignores a trailing slash; the diff still reports the value that changed.
    assert [(c.field, c.old, c.new) for c in changes] == [("landing_page", "https://p/x", "https://p/x/")]


def test_moved_falls_back_to_title_and_publisher() -> None:
    before = {"x": member("x", 1, landing_page="", title="公交线路", publisher="交通局")}
    now = {"y": member("y", 2, landing_page="", title="公交线路", publisher="交通局")}
    assert [(o.dataset_id, n.dataset_id) for o, n, _ in compute_diff(before, now, TRACKED).moved] == [("x", "y")]


def test_ambiguous_identity_does_not_pair() -> None:
    # Two datasets share one landing page (portals do this): neither side is paired by it.
    removed = [member("a", 1, landing_page="https://p/all", title="甲"),
               member("b", 1, landing_page="https://p/all", title="乙")]
    added = [member("c", 2, landing_page="https://p/all", title="丙")]
    assert pair_moves(removed, added) == []


def test_set_identities_hold() -> None:
    before = {f"s:{i}": member(f"s:{i}", i) for i in range(10)}
    # Even ids get a new version with a new title; odd ones a new version with the same content.
    now = {f"s:{i}": member(f"s:{i}", i + 100, **({"title": f"t{i}"} if i % 2 == 0 else {})) for i in range(5, 15)}
    diff = compute_diff(before, now, TRACKED)
    added = {m.dataset_id for m in diff.added} | {n.dataset_id for _, n, _ in diff.moved}
    removed = {m.dataset_id for m, _ in diff.removed} | {o.dataset_id for o, _, _ in diff.moved}
    assert added == now.keys() - before.keys()
    assert removed == before.keys() - now.keys()
    changed = {m.dataset_id for m, _ in diff.changed}
    assert changed == {"s:6", "s:8"}
