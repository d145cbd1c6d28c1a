"""Text semantics shared by both backends (search.text): analysis and query syntax."""

from __future__ import annotations

import pytest

from search.text import STOP_WORDS, TEXT_FIELDS, TextQueryError, index_text, parse_text, tokens


def _matches(text: str, **document: object) -> bool:
    return parse_text(text).matches(document)


# -- analysis ----------------------------------------------------------------------


def test_cjk_runs_become_overlapping_bigrams() -> None:
    assert tokens("北京市公共交通线路数据") == [
        "北京",
        "京市",
        "市公",
        "公共",
        "共交",
        "交通",
        "通线",
        "线路",
        "路数",
        "数据",
    ]
    assert tokens("外交部") == ["外交", "交部"]


def test_a_lone_cjk_character_stays_a_unigram() -> None:
    assert tokens("交") == ["交"]
    assert tokens("交 通") == ["交", "通"]
    assert tokens("交通1路") == ["交通", "1", "路"]


def test_punctuation_breaks_a_cjk_run() -> None:
    assert tokens("交通、公交") == ["交通", "公交"]  # no 通公 across the comma


def test_mixed_cjk_and_latin_split_at_the_script_boundary() -> None:
    assert tokens("交通data") == ["交通", "data"]
    assert tokens("GTFS公交") == ["gtfs", "公交"]


def test_words_are_lowercased_folded_and_kept_whole() -> None:
    assert tokens("Café U.S.A don’t 1,241,609 v1.2 foo_bar") == [
        "cafe",
        "u.s.a",
        "don't",
        "1,241,609",
        "v1.2",
        "foo_bar",
    ]
    assert tokens("2023-06-17") == ["2023", "06", "17"]


def test_full_width_forms_are_normalised() -> None:
    assert tokens("ＣＳＶ１２３　交通") == ["csv123", "交通"]


def test_english_stop_words_are_dropped() -> None:
    assert "the" in STOP_WORDS
    assert tokens("The Bus of the City") == ["bus", "city"]
    assert tokens("_ __") == []


def test_index_text_joins_tokens_with_spaces() -> None:
    assert index_text("公共交通 GTFS") == "公共 共交 交通 gtfs"
    assert index_text(None) == ""


# -- matching (the reference reading every backend must agree with) --------------------


def test_jiaotong_matches_only_contiguous_jiaotong() -> None:
    assert _matches("交通", title="北京市公共交通线路数据")
    assert not _matches("交通", title="外交部")
    assert not _matches("交通", title="涉外交流活动信息")
    # 交 and 通 both present, apart: not a match (real title).
    assert not _matches("交通", title="淮阴区_关于印发淮阴区城乡公交一体化改造实施方案的通知")
    # Both 外交 and 交通 in one title.
    assert _matches("交通", title="对外交通量（机场航班信息）")
    assert _matches("外交", title="对外交通量（机场航班信息）")


def test_a_multi_character_word_must_be_contiguous() -> None:
    assert _matches("公共交通", title="关于有序恢复公共交通运营的通告")
    assert not _matches("公共交通", title="连云港市公共资源交易目录")
    assert not _matches("公共交通", title="公共 交通")


def test_a_single_character_matches_only_where_it_stands_alone() -> None:
    assert _matches("路", title="交通1路")
    assert not _matches("路", title="道路运输")


def test_words_are_anded_across_fields() -> None:
    assert _matches("交通 运输", title="交通数据", description="道路运输统计")
    assert not _matches("交通 公交", title="交通数据", description="道路运输统计")
    # The publisher is not text: a 交通运输局's file matches 交通 only by its own words.
    assert not _matches("交通", title="治超站信息", publisher="市交通运输局")


def test_quoted_phrase_keeps_order_and_adjacency() -> None:
    assert _matches('"bus stops"', description="all bus stops of the city")
    assert not _matches('"bus stops"', description="stops of the bus")
    assert _matches("bus stops", description="stops of the bus")
    assert _matches("“公共交通”", title="公共交通站点")  # curly quotes too
    assert not _matches("“公共交通”", title="公共资源交通")


def test_minus_excludes() -> None:
    assert _matches("交通 -出租", title="交通线路")
    assert not _matches("交通 -出租", title="出租交通车辆")
    assert not _matches('交通 -"出租 汽车"', title="出租 汽车 交通")
    assert _matches('交通 -"出租 汽车"', title="汽车 出租 交通")
    assert _matches("-出租", title="公交线路")  # only exclusions: everything else


def test_pipe_is_or_between_neighbours() -> None:
    query = "数据 公交 | 地铁"
    assert _matches(query, title="公交数据")
    assert _matches(query, title="地铁数据")
    assert not _matches(query, title="公交")  # 数据 is still required
    assert not _matches(query, title="出租数据")
    assert _matches("公交|地铁|轮渡", title="轮渡时刻")


def test_list_fields_match_value_by_value() -> None:
    assert set(TEXT_FIELDS) == {"title", "description", "tags", "themes"}  # not the publisher
    assert _matches("交通", tags=["道路", "交通"])
    assert not _matches('"bus stops"', tags=["bus", "stops"])  # a phrase never spans two tags


def test_terms_that_analyse_to_nothing_are_dropped() -> None:
    assert parse_text("the . 交通") == parse_text("交通")
    assert parse_text("a | the").is_empty()
    assert parse_text("").is_empty() and parse_text("   ").is_empty()


def test_parsed_structure() -> None:
    query = parse_text('交通 "公共 汽车" 公交 | 地铁 -出租')
    assert [c.negated for c in query.clauses] == [False, False, False, True]
    assert query.clauses[1].alternatives[0].tokens == ("公共", "汽车")
    assert query.clauses[1].alternatives[0].quoted
    assert [t.text for t in query.clauses[2].alternatives] == ["公交", "地铁"]
    assert len(query.positive) == 3 and len(query.negative) == 1


@pytest.mark.parametrize(
    "text, reason",
    [
        ('"交通', "unclosed quote"),
        ("交通 |", "needs a term on each side"),
        ("| 交通", "needs a term on each side"),
        ("交通 | | 公交", "needs a term on each side"),
        ("交通 | -公交", "excluded term"),
        ("-交通 | 公交", "excluded term"),
    ],
)
def test_malformed_text_is_refused(text: str, reason: str) -> None:
    with pytest.raises(TextQueryError, match=reason):
        parse_text(text)
