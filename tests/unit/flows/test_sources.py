"""Objects read as JSON: a JSON array or JSON lines, with a reason for what is not an object."""

from __future__ import annotations

import pytest

from comind.flows.sources import parse_object

WHERE = "landing/in/a.json"


def test_a_json_array_of_objects() -> None:
    assert parse_object('[{"a": 1}, {"b": [2]}]', where=WHERE) == ([{"a": 1}, {"b": [2]}], [])


def test_a_json_array_after_whitespace() -> None:
    assert parse_object('\n  \n [ {"a": 1} ]\n', where=WHERE) == ([{"a": 1}], [])


def test_array_items_that_are_not_objects_are_reasons_with_their_index() -> None:
    good, bad = parse_object('[{"a": 1}, 2, "x", {"b": 2}, null]', where=WHERE)
    assert good == [{"a": 1}, {"b": 2}]
    assert bad == [
        f"{WHERE}: item 1 is not a JSON object",
        f"{WHERE}: item 2 is not a JSON object",
        f"{WHERE}: item 4 is not a JSON object",
    ]


def test_a_broken_array_is_one_reason() -> None:
    good, bad = parse_object('[{"a": 1}, {"b": ', where=WHERE)
    assert good == []
    assert len(bad) == 1
    assert bad[0].startswith(f"{WHERE}: ")
    assert "Expecting value" in bad[0]


def test_json_lines_with_line_numbers_for_bad_lines() -> None:
    text = '{"n": 1}\n\n{"n": 2\n   \n[1, 2]\n{"n": 3}\n"text"\n'
    # the first line is an object, so this is read as JSON lines, not an array
    good, bad = parse_object(text, where=WHERE)
    assert good == [{"n": 1}, {"n": 3}]
    assert [b.split(": ", 1)[0] for b in bad] == [f"{WHERE}:3", f"{WHERE}:5", f"{WHERE}:7"]
    assert bad[0].startswith(f"{WHERE}:3: Expecting")
    assert bad[1] == f"{WHERE}:5: not a JSON object"
    assert bad[2] == f"{WHERE}:7: not a JSON object"


def test_windows_line_endings_count_lines_the_same() -> None:
    good, bad = parse_object('{"n": 1}\r\nnope\r\n{"n": 2}\r\n', where=WHERE)
    assert good == [{"n": 1}, {"n": 2}]
    assert [b.split(": ", 1)[0] for b in bad] == [f"{WHERE}:2"]


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_nothing_in_nothing_out(text: str) -> None:
    assert parse_object(text, where=WHERE) == ([], [])


def test_a_single_line_object_is_one_record() -> None:
    assert parse_object('{"a": {"b": 1}}', where=WHERE) == ([{"a": {"b": 1}}], [])


def test_a_pretty_printed_object_document_is_one_record() -> None:
    assert parse_object('{\n  "a": 1,\n  "b": [1, 2]\n}\n', where=WHERE) == (
        [{"a": 1, "b": [1, 2]}],
        [],
    )
