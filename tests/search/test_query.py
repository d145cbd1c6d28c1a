"""The scene query model (search.query): validation messages and canonical form."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from search.query import QueryError, SceneQuery, parse_query

DESIGN_EXAMPLE = {
    "text": "交通 公交 -出租",
    "filters": {"region": ["杭州市"], "open_type": ["conditional"], "formats": ["csv", "json"]},
    "exclude": {"publisher": ["往年开放数据"]},
    "ranges": {
        "modified": {"gte": "now-90d"},
        "record_count": {"gte": 1000},
        "quality.completeness": {"gte": 0.8},
    },
}


def _errors(data: object) -> list[str]:
    with pytest.raises(QueryError) as caught:
        parse_query(data)  # type: ignore[arg-type]
    assert str(caught.value) == "; ".join(str(e) for e in caught.value.errors)
    return [str(e) for e in caught.value.errors]


# -- good queries ---------------------------------------------------------------------


def test_the_design_example_round_trips() -> None:
    query = parse_query(DESIGN_EXAMPLE)
    assert query.to_dict() == {
        "text": "交通 公交 -出租",
        "filters": {"region": ["杭州市"], "formats": ["csv", "json"], "open_type": ["conditional"]},
        "exclude": {"publisher": ["往年开放数据"]},
        "ranges": {
            "modified": {"gte": "now-90d"},
            "record_count": {"gte": 1000},
            "quality.completeness": {"gte": 0.8},
        },
    }
    assert parse_query(query.to_dict()) == query
    assert parse_query(query.to_json()) == query
    assert hash(parse_query(query.to_json())) == hash(query)


def test_empty_query_matches_everything() -> None:
    for empty in ({}, "{}", "", None, {"text": None, "filters": None}):
        query = parse_query(empty)  # type: ignore[arg-type]
        assert query == SceneQuery() and query.is_match_all()
    assert parse_query({}).to_dict() == {"text": "", "filters": {}, "exclude": {}, "ranges": {}}


def test_canonical_form_is_order_and_duplicate_insensitive() -> None:
    a = parse_query({"filters": {"formats": ["JSON", "csv", "json"], "region": "杭州市"}})
    b = parse_query({"filters": {"region": [" 杭州市 "], "formats": ["csv", "json"]}})
    assert a == b
    assert a.to_dict()["filters"] == {"region": ["杭州市"], "formats": ["csv", "json"]}


def test_a_lone_string_is_a_one_value_list_and_an_empty_list_no_filter() -> None:
    query = parse_query({"filters": {"region": "杭州市", "themes": []}})
    assert query.filters == (("region", ("杭州市",)),)


def test_enum_and_boolean_values_are_normalised() -> None:
    query = parse_query(
        {
            "filters": {
                "open_type": ["Conditional"],
                "update_frequency": "MONTHLY",
                "machine_readable": ["true", False],
            }
        }
    )
    assert query.filter_map() == {
        "open_type": ("conditional",),
        "update_frequency": ("monthly",),
        "machine_readable": (False, True),
    }


def test_text_whitespace_is_collapsed() -> None:
    assert parse_query({"text": "  交通 \n 公交 "}).text == "交通 公交"


def test_numeric_strings_are_numbers() -> None:
    query = parse_query(
        {"ranges": {"record_count": {"gte": "1000"}, "quality.accuracy": {"lt": "0.5"}}}
    )
    assert query.to_dict()["ranges"] == {
        "record_count": {"gte": 1000},
        "quality.accuracy": {"lt": 0.5},
    }


# -- relative dates are evaluated at run time -------------------------------------------


def test_relative_dates_stay_relative_until_resolved() -> None:
    query = parse_query({"ranges": {"modified": {"gte": "now-90d", "lt": "now-2h"}}})
    assert query.to_dict()["ranges"] == {"modified": {"gte": "now-90d", "lt": "now-2h"}}
    first = query.resolve_ranges(datetime(2023, 6, 20, 12, 0, tzinfo=UTC))
    later = query.resolve_ranges(datetime(2024, 1, 1, tzinfo=UTC))
    assert [(b.op, b.value) for b in first] == [
        ("gte", "2023-03-22T12:00:00"),
        ("lt", "2023-06-20T10:00:00"),
    ]
    assert first[0].value != later[0].value


def test_date_only_bounds_cover_whole_days() -> None:
    query = parse_query({"ranges": {"created": {"gt": "2023-06-01", "lte": "2023-06-30"}}})
    resolved = query.resolve_ranges(datetime(2024, 1, 1))
    assert [(b.op, b.value) for b in resolved] == [
        ("gte", "2023-06-02T00:00:00"),
        ("lt", "2023-07-01T00:00:00"),
    ]


def test_datetimes_with_zones_are_compared_in_utc() -> None:
    query = parse_query({"ranges": {"modified": {"gte": "2023-06-01T08:00:00+08:00"}}})
    assert query.resolve_ranges()[0].value == "2023-06-01T00:00:00"


# -- refused queries: every message names the field and the reason -----------------------


def test_the_bad_date_message_reads_as_documented() -> None:
    assert _errors({"ranges": {"modified": {"gte": "2023-13-45"}}}) == [
        'ranges.modified.gte: "2023-13-45" is not a date (use YYYY-MM-DD or now-Nd)'
    ]


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"txt": "交通"}, 'txt: is not a query key; did you mean "text"?'),
        (
            {"filters": {"regoin": ["杭州市"]}},
            'filters.regoin: is not a filter field; did you mean "region"?',
        ),
        (
            {"exclude": {"publsher": "x"}},
            'exclude.publsher: is not a filter field; did you mean "publisher"?',
        ),
        (
            {"ranges": {"modifed": {"gte": "now"}}},
            'ranges.modifed: is not a range field; did you mean "modified"?',
        ),
        (
            {"ranges": {"quality.completenes": {"gte": 0.5}}},
            "ranges.quality.completenes: is not a range field; "
            'did you mean "quality.completeness"?',
        ),
        (
            {"ranges": {"modified": {"after": "now"}}},
            "ranges.modified.after: is not an operator (use gte, gt, lte or lt)",
        ),
        (
            {"ranges": {"record_count": {"gte": "lots"}}},
            'ranges.record_count.gte: "lots" is not a number',
        ),
        ({"ranges": {"size": {"gte": True}}}, "ranges.size.gte: true is not a number"),
        (
            {"ranges": {"quality.timeliness": {"gte": 2}}},
            "ranges.quality.timeliness.gte: 2 must be between 0 and 1",
        ),
        (
            {"ranges": {"created": {"gte": "yesterday"}}},
            'ranges.created.gte: "yesterday" is not a date (use YYYY-MM-DD or now-Nd)',
        ),
        (
            {"ranges": {"created": {"gte": "now-3y"}}},
            'ranges.created.gte: "now-3y" is not a date (use YYYY-MM-DD or now-Nd)',
        ),
        (
            {"ranges": {"created": 5}},
            'ranges.created: 5 must be an object like {"gte": ..., "lt": ...}',
        ),
        ({"ranges": {"created": {}}}, "ranges.created: needs at least one of gte, gt, lte, lt"),
        (
            {"ranges": {"record_count": {"gte": 10, "gt": 5}}},
            "ranges.record_count: has both gte and gt; use one lower bound",
        ),
        (
            {"ranges": {"record_count": {"gte": 10, "lt": 10}}},
            "ranges.record_count: lower bound is above the upper bound; nothing can match",
        ),
        (
            {"ranges": {"modified": {"gte": "now-1d", "lte": "now-7d"}}},
            "ranges.modified: lower bound is above the upper bound; nothing can match",
        ),
        (
            {"filters": {"open_type": ["open"]}},
            'filters.open_type[0]: "open" is not a valid open_type '
            "(known: unconditional, registration, conditional, restricted)",
        ),
        (
            {"filters": {"update_frequency": "montly"}},
            'filters.update_frequency: "montly" is not a valid update_frequency; '
            'did you mean "monthly"?',
        ),
        (
            {"filters": {"region": [1]}},
            "filters.region[0]: 1 must be a string or a list of strings",
        ),
        (
            {"filters": {"region": {"name": "x"}}},
            'filters.region: {"name": "x"} must be a string or a list of strings',
        ),
        ({"filters": {"tags": [""]}}, 'filters.tags[0]: "" must not be empty'),
        (
            {"filters": {"machine_readable": "yes"}},
            'filters.machine_readable: "yes" must be true or false',
        ),
        (
            {"filters": ["region"]},
            'filters: ["region"] must be an object like {"region": ["杭州市"]}',
        ),
        ({"text": 5}, "text: 5 must be a string"),
        ({"text": '交通 "公交'}, 'text: "交通 \\"公交" cannot be read: unclosed quote'),
        ({"text": "交通 |"}, "text: \"交通 |\" cannot be read: '|' needs a term on each side"),
    ],
)
def test_refusals_name_field_value_and_reason(data: dict[str, object], expected: str) -> None:
    assert _errors(data) == [expected]


def test_every_problem_is_reported_at_once() -> None:
    errors = _errors(
        {"filters": {"regoin": "x", "open_type": "open"}, "ranges": {"size": {"gte": "x"}}}
    )
    assert [e.split(":")[0] for e in errors] == [
        "filters.regoin",
        "filters.open_type",
        "ranges.size.gte",
    ]


def test_errors_are_machine_readable() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query({"ranges": {"modified": {"gte": "2023-13-45"}}})
    assert isinstance(caught.value, ValueError)
    (error,) = caught.value.errors
    assert (error.field, error.value) == ("ranges.modified.gte", "2023-13-45")
    assert error.to_dict()["message"] == str(error)


@pytest.mark.parametrize(
    "data, expected",
    [
        (
            "{not json",
            "query: is not valid JSON (Expecting property name enclosed in double quotes)",
        ),
        ("[1, 2]", "query: [1, 2] must be a JSON object"),
        (json.dumps({"text": "x" * 1001}), "text: is longer than 1000 characters"),
    ],
)
def test_whole_query_refusals(data: str, expected: str) -> None:
    assert _errors(data) == [expected]
