"""Reverse matching after a harvest gives exactly the diffs of a full recompute.

Property: on the bundled real catalog (Hangzhou portal export), for random scenes
and random changes to the catalog (titles, publishers, dates, removals, additions),
running only the affected scenes on their candidates records the same diff for each
scene as re-running its whole query, leaves the same members, and every scene that
reverse matching leaves out has nothing to report.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import select

from config.extensions import db
from search.harvest import run_harvest
from subscriptions.accounts import operator_user
from subscriptions.affected import affected_scene_ids, affected_scenes, run_affected_scenes
from subscriptions.models import Scene, SceneMember
from subscriptions.runner import run_scene
from subscriptions.scenes import create_scene
from tests.helpers import sample_records, write_snapshot
from tests.subscriptions.diff_support import diff_part, full_recompute

T0 = datetime(2023, 7, 1, 8, 0, tzinfo=UTC)
RECORDS = sample_records()
KEPT, SPARE = RECORDS[:1100], RECORDS[1100:]
TITLE, PUBLISHER, MODIFIED, REGION = "资源名称", "发布部门", "更新时间", "所属区县"
# A province, the portal's city and districts: a region filter matches any level.
REGIONS = ["浙江省", "杭州市", "西湖区", "拱墅区", "桐庐县", "滨江区"]


def _vocabulary() -> dict[str, list[str]]:
    bigrams: dict[str, int] = {}
    for record in RECORDS:
        title = str(record.get(TITLE) or "")
        for i in range(len(title) - 1):
            pair = title[i:i + 2]
            if all("\u4e00" <= ch <= "\u9fff" for ch in pair):
                bigrams[pair] = bigrams.get(pair, 0) + 1
    common = sorted(bigrams, key=lambda w: -bigrams[w])
    publishers = sorted({str(r.get(PUBLISHER)) for r in RECORDS if r.get(PUBLISHER)})
    return {"words": common[:60], "publishers": publishers[:40]}


VOCAB = _vocabulary()
words = st.sampled_from(VOCAB["words"])
publishers = st.sampled_from(VOCAB["publishers"])


@st.composite
def scene_queries(draw: st.DrawFn) -> dict[str, Any]:
    query: dict[str, Any] = {}
    parts = []
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["word", "word", "or", "not", "phrase"]))
        if kind == "word":
            parts.append(draw(words))
        elif kind == "or":
            parts.append(f"{draw(words)} | {draw(words)}")
        elif kind == "not":
            parts.append(f"-{draw(words)}")
        else:
            parts.append(f'"{draw(words)}{draw(words)}"')
    if parts:
        query["text"] = " ".join(parts)
    filters: dict[str, Any] = {}
    if draw(st.booleans()):
        filters["publisher"] = draw(st.lists(publishers, min_size=1, max_size=3))
    if draw(st.integers(0, 3)) == 0:
        filters["open_type"] = [draw(st.sampled_from(["unconditional", "conditional"]))]
    if draw(st.integers(0, 3)) == 0:
        filters["region"] = draw(st.lists(st.sampled_from(REGIONS), min_size=1, max_size=2))
    if filters:
        query["filters"] = filters
    if draw(st.integers(0, 4)) == 0:
        query["exclude"] = {"publisher": [draw(publishers)]}
    ranges: dict[str, Any] = {}
    kind = draw(st.sampled_from(["none", "none", "relative", "absolute", "count"]))
    if kind == "relative":
        ranges["modified"] = {"gte": f"now-{draw(st.integers(1, 400))}d"}
    elif kind == "absolute":
        ranges["modified"] = {"gte": f"2023-0{draw(st.integers(1, 6))}-01"}
    elif kind == "count":
        ranges["record_count"] = {"gte": draw(st.sampled_from([10, 100, 1000]))}
    if ranges:
        query["ranges"] = ranges
    return query


@st.composite
def changes(draw: st.DrawFn) -> list[tuple[str, int, str]]:
    ops = []
    for _ in range(draw(st.integers(1, 25))):
        op = draw(st.sampled_from(["retitle", "republish", "redate", "reregion", "drop", "add"]))
        position = draw(st.integers(0, len(KEPT) - 1))
        value = {"retitle": draw(words), "republish": draw(publishers),
                 "redate": f"2023-0{draw(st.integers(1, 6))}-{draw(st.integers(10, 28))}",
                 "reregion": draw(st.sampled_from(REGIONS[1:])),
                 "drop": "", "add": str(draw(st.integers(0, len(SPARE) - 1)))}[op]
        ops.append((op, position, value))
    return ops


def _apply(records: list[dict[str, Any]], ops: list[tuple[str, int, str]]) -> list[dict[str, Any]]:
    out = [dict(r) for r in records]
    dropped: set[int] = set()
    for op, position, value in ops:
        position %= len(out)
        record = out[position]
        if op == "retitle":
            record[TITLE] = f"{record.get(TITLE, '')}{value}"
        elif op == "republish":
            record[PUBLISHER] = value
        elif op == "redate":
            record[MODIFIED] = value
        elif op == "reregion":
            record[REGION] = value
        elif op == "drop":
            dropped.add(position)
        else:
            spare = SPARE[int(value)]
            if spare not in out:
                out.append(dict(spare))
    return [r for i, r in enumerate(out) if i not in dropped]




def _members(scene_id: int) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(SceneMember.dataset_id).where(SceneMember.scene_id == scene_id)))


def test_reverse_matching_equalsfull_recompute(app, tmp_path: Path) -> None:
    state: dict[str, Any] = {"records": list(KEPT), "step": 0}
    # Named as the Hangzhou portal's export: its districts are placed in 浙江省 / 杭州市.
    run_harvest("hz", write_snapshot(tmp_path / "s0_zhejiang_hangzhou.json", state["records"]),
                fmt="portal-json", now=T0)

    @hsettings(max_examples=12, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(queries=st.lists(scene_queries(), min_size=2, max_size=6), ops=changes(),
           hours=st.integers(1, 24 * 40))
    def check(queries: list[dict[str, Any]], ops: list[tuple[str, int, str]], hours: int) -> None:
        state["step"] += 1
        step = state["step"]
        baseline_at = T0 + timedelta(days=step * 50)
        with db.session() as session:
            owner = operator_user(session)
            ids = [create_scene(session, owner, name=f"s{step}-{i}", query=q, schedule="manual",
                                now=baseline_at).scene.id
                   for i, q in enumerate(queries)]
        for scene_id in ids:  # saving took the baseline; a run now finds nothing new
            assert run_scene(scene_id, now=baseline_at, deliver=False)["run"]["state"] in ("baseline", "noop")

        state["records"] = _apply(state["records"], ops)
        harvested_at = baseline_at + timedelta(hours=hours)
        summary = run_harvest("hz", write_snapshot(tmp_path / f"s{step}_zhejiang_hangzhou.json",
                                                   state["records"]),
                              fmt="portal-json", now=harvested_at)
        expected = {scene_id: full_recompute(scene_id, harvested_at) for scene_id in ids}
        with db.session() as session:
            affected = affected_scenes(session, summary.changed_ids, summary.removed_ids,
                                       now=harvested_at, scene_ids=ids)
        documents = run_affected_scenes(summary.changed_ids, summary.removed_ids,
                                        now=harvested_at, deliver=False, scene_ids=ids)
        assert [d["scene"]["id"] for d in documents] == sorted(affected)
        ran = {d["scene"]["id"]: d for d in documents}
        for scene_id in ids:
            diff, members = expected[scene_id]
            if scene_id in ran:
                assert diff_part(ran[scene_id]) == diff, (scene_id, queries)
                assert _members(scene_id) == members
            else:
                # Left out: a full recompute finds nothing to report either.
                assert diff["added"] == diff["removed"] == diff["changed"] == diff["moved"] == []
        with db.session() as session:  # keep the next examples' scenes apart
            for scene in session.scalars(select(Scene).where(Scene.id.in_(ids))):
                scene.paused = True

    check()


def test_affected_scene_ids_finds_members_and_new_matches(app, tmp_path: Path) -> None:
    records = [dict(r) for r in KEPT[:200]]
    run_harvest("hz", write_snapshot(tmp_path / "a.json", records), fmt="portal-json", now=T0)
    word = VOCAB["words"][0]
    with db.session() as session:
        owner = operator_user(session)
        match = create_scene(session, owner, name="word", query={"text": word}, schedule="on-change")
        other = create_scene(session, owner, name="never", query={"text": "zzzqqq"}, schedule="on-change")
        ids = (match.scene.id, other.scene.id)
    for scene_id in ids:
        run_scene(scene_id, now=T0, deliver=False)
    member = sorted(_members(ids[0]))[0]
    # A new dataset whose title has the word: the first scene, not the second.
    records.append({**records[0], TITLE: f"新增{word}数据", "详情页网址": "https://example.org/new"})
    summary = run_harvest("hz", write_snapshot(tmp_path / "b.json", records), fmt="portal-json",
                          now=T0 + timedelta(hours=1))
    assert summary.new == 1
    with db.session() as session:
        assert affected_scene_ids(session, summary.changed_ids, summary.removed_ids) == [ids[0]]
        # A member leaving the catalog affects its scene through the members table alone.
        assert affected_scene_ids(session, [], [member]) == [ids[0]]
        assert affected_scene_ids(session, [], ["hz:not-a-member"]) == []


def test_scene_index_skips_scenes_whose_anchor_is_absent() -> None:
    from search.query import parse_query as parse
    from subscriptions.scene_index import ChangedDocuments, Predicate, SceneIndex

    index = SceneIndex([
        Predicate.of(1, parse({"text": "公共交通"})),
        Predicate.of(2, parse({"filters": {"publisher": ["市交通局"]}})),
        Predicate.of(3, parse({"ranges": {"record_count": {"gte": 100}}})),
        Predicate.of(4, parse({"text": "交通 | 教育", "filters": {"formats": ["csv"]}})),
    ])
    batch = ChangedDocuments.of([
        {"id": "a", "title": "北京市公共交通线路", "publisher": "市交通局", "record_count": 50,
         "formats": ["CSV"]},
        {"id": "b", "title": "外交部通知", "publisher": "外交部", "record_count": 500, "formats": ["xls"]},
    ])
    found = index.candidates(batch, T0)
    assert found == {1: {"a"}, 2: {"a"}, 3: {"b"}, 4: {"a"}}



def test_relative_dates_moving_past_members_are_reported(app, tmp_path: Path) -> None:
    """A member whose date left a ``now-30d`` window since the last run is removed by
    the incremental run exactly as by a full recompute."""
    records = [dict(r) for r in KEPT[:300]]
    word = VOCAB["words"][0]
    hits = [r for r in records if word in str(r.get(TITLE))]
    assert len(hits) >= 2
    hits[0][MODIFIED] = "2023-06-25"  # inside the window at the baseline, outside 20 days later
    hits[1][MODIFIED] = "2023-06-28"
    run_harvest("hz", write_snapshot(tmp_path / "a.json", records), fmt="portal-json", now=T0)
    with db.session() as session:
        scene_id = create_scene(session, operator_user(session), name="recent", schedule="on-change",
                                query={"text": word, "ranges": {"modified": {"gte": "now-30d"}}}).scene.id
    run_scene(scene_id, now=T0, deliver=False)
    assert len(_members(scene_id)) >= 2
    hits[1][MODIFIED] = "2023-07-01"  # a change that makes the scene affected
    later = T0 + timedelta(days=20)
    summary = run_harvest("hz", write_snapshot(tmp_path / "b.json", records), fmt="portal-json", now=later)
    expected, members = full_recompute(scene_id, later)
    assert expected["removed"] and {r["reason"] for r in expected["removed"]} == {"no_longer_matches"}
    (document,) = run_affected_scenes(summary.changed_ids, summary.removed_ids, now=later, deliver=False)
    assert diff_part(document) == expected
    assert _members(scene_id) == members


def test_a_scene_moved_only_by_the_clock_is_affected(app, tmp_path: Path) -> None:
    """No dataset of the scene changed, but members left its ``now-30d`` window since
    its last run: the harvest's on-change pass reports them, as a full recompute does."""
    records = [dict(r) for r in KEPT[:300]]
    word = VOCAB["words"][0]
    for record in records:
        if word in str(record.get(TITLE)):
            record[MODIFIED] = "2023-06-20"
    run_harvest("hz", write_snapshot(tmp_path / "a.json", records), fmt="portal-json", now=T0)
    with db.session() as session:
        scene_id = create_scene(session, operator_user(session), name="recent", schedule="on-change",
                                query={"text": word, "ranges": {"modified": {"gte": "now-30d"}}}).scene.id
    run_scene(scene_id, now=T0, deliver=False)
    assert _members(scene_id)
    unrelated = next(r for r in records if word not in str(r.get(TITLE)))
    unrelated[TITLE] = f"{unrelated[TITLE]}（更新）"
    later = T0 + timedelta(days=25)
    summary = run_harvest("hz", write_snapshot(tmp_path / "b.json", records), fmt="portal-json", now=later)
    expected, members = full_recompute(scene_id, later)
    assert expected["counts"]["removed"] == len(_members(scene_id))  # every member aged out
    with db.session() as session:
        assert affected_scene_ids(session, summary.changed_ids, summary.removed_ids) == [scene_id]
    (document,) = run_affected_scenes(summary.changed_ids, summary.removed_ids, now=later, deliver=False)
    assert diff_part(document) == expected and _members(scene_id) == members == set()


def test_on_change_webhooks_arrive_signed_once(app, tmp_path: Path) -> None:
    from notifier.receiver import VerifyingReceiver

    records = [dict(r) for r in KEPT[:200]]
    word = VOCAB["words"][0]
    run_harvest("hz", write_snapshot(tmp_path / "a.json", records), fmt="portal-json", now=T0)
    with VerifyingReceiver() as receiver:
        with db.session() as session:
            created = create_scene(session, operator_user(session), name="hook", query={"text": word},
                                   schedule="on-change", webhook=receiver.url)
            scene_id, receiver.secret = created.scene.id, created.channels[0].secret
        run_scene(scene_id, now=T0)
        records.append({**records[0], TITLE: f"新增{word}", "详情页网址": "https://example.org/hook"})
        later = T0 + timedelta(hours=1)
        summary = run_harvest("hz", write_snapshot(tmp_path / "b.json", records), fmt="portal-json", now=later)
        (document,) = run_affected_scenes(summary.changed_ids, summary.removed_ids, now=later)
        assert document["counts"]["added"] == 1
        assert receiver.rejected == [] and len(receiver.received) == 1
        (payload,) = receiver.received.values()
        assert payload["data"]["run"]["id"] == document["run"]["id"]
