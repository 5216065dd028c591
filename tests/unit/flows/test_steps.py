"""The built-in steps: every record leaves a step kept, quarantined (with reasons), failed or
deliberately dropped; steps are built from validated declarations, and what validated
builds (a bad declaration is refused by the spec, never by a worker)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from comind.errors import ComindError
from comind.flows import steps
from comind.flows.aggregate import Aggregate
from comind.flows.records import Record, StepResult
from comind.flows.steps import (
    Anonymize,
    Cleanse,
    FilterStep,
    MapStep,
    MemoryWindow,
    Quality,
    Route,
    StepContext,
    Validate,
    build_steps,
    normalize_phone,
)
from comind.governance.privacy import decrypt_value
from comind.spec import steps as declared

from .conftest import UserModule

STEPS = TypeAdapter(list[declared.Step])


def declare(*entries: dict[str, Any]) -> list[declared.StepSpec]:
    """Step declarations as the spec validates them."""
    return list(STEPS.validate_python(list(entries)))


def config(kind: str, value: Any) -> Any:
    """The validated configuration of one ``{kind: value}`` step."""
    return declare({kind: value})[0].config


def records(*values: dict[str, Any]) -> list[Record]:
    return [Record(dict(v)) for v in values]


def kept_values(result: StepResult) -> list[dict[str, Any]]:
    return [r.value for r in result.kept]


# -- validate

SCHEMA = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}


@pytest.fixture
def validate(tmp_path: Path, ctx: StepContext) -> Validate:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "order.json").write_text(json.dumps(SCHEMA))
    return Validate("schemas/order.json", ctx)


def test_validate_keeps_valid_records_and_quarantines_invalid_ones(validate: Validate) -> None:
    good, bad = Record({"id": 1, "tags": ["a"]}), Record({"id": "x"})
    result = validate.apply([good, bad])
    assert result.kept == [good]
    assert [q.record for q in result.quarantined] == [bad]
    assert result.quarantined[0].step == "validate"
    assert result.quarantined[0].reasons == ["id: not of type integer"]
    assert result.failed == []


PRIVATE = {
    "type": "object",
    "properties": {
        "email": {"type": "string", "format": "email"},
        "address": {"type": "object", "required": ["city", "street"]},
        "total": {"type": "number", "minimum": 0},
        "currency": {"enum": ["EUR", "USD", "GBP"]},
        "code": {"type": "string", "pattern": "^[A-Z]+$", "maxLength": 3},
        "nested": {"type": "object", "additionalProperties": False},
    },
}


def test_validate_reasons_name_the_rule_and_never_quote_the_value(
    tmp_path: Path, ctx: StepContext
) -> None:
    (tmp_path / "private.json").write_text(json.dumps(PRIVATE))
    step = Validate("private.json", ctx)
    bad = [{"email": ["carol@victim.example"]}, {"email": "alice.private.victim"},
           {"total": -7.25, "currency": "secretcoin", "code": "abcd1",
            "nested": {"hidden.victim": 1}, "address": {}}]  # fmt: skip
    reasons = [r for q in step.apply(records(*bad)).quarantined for r in q.reasons]
    assert reasons == [
        "email: not of type string", "email: not a valid email",
        "address/city: required", "address/street: required",
        "code: longer than 3 characters", "code: not matching the pattern ^[A-Z]+$",
        "currency: not one of [EUR, USD, GBP]",
        "nested: has properties the schema does not allow", "total: below minimum 0",
    ]  # fmt: skip
    for secret in ("carol", "alice", "7.25", "secretcoin", "abcd1", "hidden"):
        assert not any(secret in r for r in reasons), secret


def test_validate_gives_every_error_as_path_colon_message_sorted(validate: Validate) -> None:
    result = validate.apply(records({"tags": ["ok", 5, "ok", True]}))
    assert result.quarantined[0].reasons == [
        "id: required",
        "tags/1: not of type string",
        "tags/3: not of type string",
    ]


def test_validate_missing_or_unreadable_schema_is_a_comind_error(
    tmp_path: Path, ctx: StepContext
) -> None:
    with pytest.raises(ComindError, match=r"cannot read JSON Schema .*missing\.json"):
        Validate("missing.json", ctx)
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ComindError, match=r"cannot read JSON Schema .*broken\.json"):
        Validate("broken.json", ctx)


# -- cleanse


def test_cleanse_trims_lowers_and_uppers_strings_only(ctx: StepContext) -> None:
    step = Cleanse(
        config("cleanse", {"trim": ["name", "n"], "lower": ["code"], "upper": ["country"]}), ctx
    )
    result = step.apply(records({"name": "  Ada  ", "n": 5, "code": "AbC", "country": "fr"}))
    assert kept_values(result) == [{"name": "Ada", "n": 5, "code": "abc", "country": "FR"}]


def test_cleanse_normalizes_emails_and_phones(ctx: StepContext) -> None:
    step = Cleanse(config("cleanse", {"email": ["email"], "phone": ["phone", "fax"]}), ctx)
    result = step.apply(
        records({"email": "  Ada@Example.COM ", "phone": "+1 (555) 010-9999", "fax": None})
    )
    assert kept_values(result) == [
        {"email": "ada@example.com", "phone": "+15550109999", "fax": None}
    ]


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("+1 (555) 010-9999", "+15550109999"),
        ("  +44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("020 7946 0958", "02079460958"),
        ("555.010.9999", "5550109999"),
        ("", ""),
    ],
)
def test_normalize_phone(raw: str, normalized: str) -> None:
    assert normalize_phone(raw) == normalized


@pytest.mark.parametrize(
    ("kind", "raw", "coerced"),
    [
        ("int", "42", 42),
        ("int", "3.9", 3),
        ("int", 7.0, 7),
        ("float", "2.5", 2.5),
        ("str", 5, "5"),
        ("bool", "Yes", True),
        ("bool", " 1 ", True),
        ("bool", "no", False),
        ("bool", False, False),
        ("datetime", "2026-01-02 03:04:05", "2026-01-02T03:04:05"),
    ],
)
def test_cleanse_coerces_types(ctx: StepContext, kind: str, raw: Any, coerced: Any) -> None:
    result = Cleanse(config("cleanse", {"types": {"v": kind}}), ctx).apply(records({"v": raw}))
    assert kept_values(result) == [{"v": coerced}]
    assert type(result.kept[0].value["v"]) is type(coerced)


def test_cleanse_leaves_null_and_missing_fields_alone(ctx: StepContext) -> None:
    result = Cleanse(config("cleanse", {"types": {"v": "int"}, "phone": ["p"]}), ctx).apply(
        records({"v": None}, {"other": 1})
    )
    assert kept_values(result) == [{"v": None}, {"other": 1}]


def test_cleanse_quarantines_a_value_it_cannot_coerce_and_keeps_the_rest(
    ctx: StepContext,
) -> None:
    step = Cleanse(config("cleanse", {"types": {"age": "int"}}), ctx)
    result = step.apply(records({"age": "abc"}, {"age": "12"}))
    assert kept_values(result) == [{"age": 12}]
    assert len(result.quarantined) == 1
    assert result.quarantined[0].step == "cleanse"
    assert result.quarantined[0].reasons == ["age: cannot make it a int"]


@pytest.mark.parametrize("raw", ["1.5e999", float("inf")])
def test_cleanse_quarantines_an_infinite_int(ctx: StepContext, raw: Any) -> None:
    result = Cleanse(config("cleanse", {"types": {"n": "int"}}), ctx).apply(
        records({"n": raw}, {"n": "1"})
    )
    assert kept_values(result) == [{"n": 1}]
    assert len(result.quarantined) == 1


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        (["trim"], "cleanse\n  Input should be a valid dictionary"),
        ({"trim": ["a"], "bogus": 1}, "cleanse.bogus\n  Extra inputs are not permitted"),
        ({"types": {"age": "integer"}}, "cleanse.types.age\n  Input should be 'int', 'float'"),
        ({"dedupe": {"key": ["id"], "window": "ten minutes"}}, "expected a duration like"),
    ],
)
def test_cleanse_bad_configuration_is_refused_by_the_spec(conf: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        config("cleanse", conf)


def test_cleanse_dedupe_window_takes_a_duration(ctx: StepContext) -> None:
    step = Cleanse(config("cleanse", {"dedupe": {"key": ["id"], "window": "10m"}}), ctx)
    assert step.dedupe_window == 600.0


def test_cleanse_dedupes_within_a_batch_on_the_cleaned_key(ctx: StepContext) -> None:
    step = Cleanse(config("cleanse", {"email": ["email"], "dedupe": {"key": ["email"]}}), ctx)
    first = Record({"email": " Ada@Example.com", "n": 1})
    result = step.apply(
        [
            first,
            Record({"email": "ada@example.com", "n": 2}),
            *records({"email": "bob@example.com", "n": 3}),
        ]
    )
    assert [r.value["n"] for r in result.kept] == [1, 3]
    assert result.kept[0] is first
    assert result.quarantined == [] and result.failed == []


def test_cleanse_dedupe_key_can_have_several_fields(ctx: StepContext) -> None:
    step = Cleanse(config("cleanse", {"dedupe": {"key": ["a", "b"]}}), ctx)
    result = step.apply(records({"a": 1, "b": 1}, {"a": 1, "b": 2}, {"a": 1, "b": 1}))
    assert kept_values(result) == [{"a": 1, "b": 1}, {"a": 1, "b": 2}]


def test_cleanse_a_quarantined_record_does_not_claim_its_key(ctx: StepContext) -> None:
    step = Cleanse(config("cleanse", {"types": {"n": "int"}, "dedupe": {"key": ["id"]}}), ctx)
    result = step.apply(records({"id": 1, "n": "x"}, {"id": 1, "n": "2"}))
    assert kept_values(result) == [{"id": 1, "n": 2}]
    assert len(result.quarantined) == 1


def test_cleanse_dedupes_across_batches_only_after_commit(
    ctx: StepContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(steps, "time", SimpleNamespace(time=lambda: clock[0]))
    step = Cleanse(config("cleanse", {"dedupe": {"key": ["id"], "window": 600}}), ctx)

    first = step.apply(records({"id": 1}))
    assert kept_values(first) == [{"id": 1}]
    # not committed yet (the sink may fail): the same key comes through again
    assert kept_values(step.apply(records({"id": 1}))) == [{"id": 1}]

    step.committed(first.kept)
    clock[0] = 1599.0
    assert kept_values(step.apply(records({"id": 1}, {"id": 2}))) == [{"id": 2}]

    clock[0] = 1600.0  # the window has passed
    assert kept_values(step.apply(records({"id": 1}))) == [{"id": 1}]


def test_cleanse_commit_without_dedupe_remembers_nothing(ctx: StepContext) -> None:
    step = Cleanse(config("cleanse", {"trim": ["a"]}), ctx)
    step.committed(records({"a": "x"}))
    assert isinstance(step.window, MemoryWindow) and step.window.until == {}
    assert kept_values(step.apply(records({"a": "x"}))) == [{"a": "x"}]


# -- map / filter / python

FUNCTIONS = """
    import time

    NOT_A_FUNCTION = 3

    def double(v):
        return {**v, "n": v["n"] * 2}

    def split(v):
        return [{"n": v["n"]}, {"n": -v["n"]}]

    def drop(v):
        return None

    def boom(v):
        if v["n"] == 2:
            raise RuntimeError(f"bad record {v['n']}")
        return v

    def slow(v):
        if v.get("slow"):
            time.sleep(5)
        return v

    def is_even(v):
        if v["n"] < 0:
            raise ValueError("negative")
        return v["n"] % 2 == 0

    def to_text(v):
        return "not a dict"

    def by_region(v):
        return v["region"] + "-sink"

    def no_route(v):
        return None
"""


@pytest.fixture
def fns(user_module: UserModule) -> str:
    return user_module(FUNCTIONS)


def test_map_replaces_each_record_and_keeps_its_envelope(ctx: StepContext, fns: str) -> None:
    step = MapStep(f"{fns}:double", ctx)
    source = Record({"n": 2}, ref="handle-1", enqueued_at=123.0, route="eu")
    result = step.apply([source])
    assert step.name == f"map:{fns}:double"
    assert kept_values(result) == [{"n": 4}]
    out = result.kept[0]
    assert (out.ref, out.enqueued_at, out.route) == ("handle-1", 123.0, "eu")
    assert source.value == {"n": 2}  # the function built a new dict


def test_map_returning_a_list_fans_out_and_none_drops(ctx: StepContext, fns: str) -> None:
    fanned = MapStep(f"{fns}:split", ctx).apply([Record({"n": 1}, ref="r")])
    assert kept_values(fanned) == [{"n": 1}, {"n": -1}]
    assert all(r.ref == "r" for r in fanned.kept)

    dropped = MapStep(f"{fns}:drop", ctx).apply(records({"n": 1}, {"n": 2}))
    assert dropped == StepResult()


def test_map_a_raising_record_fails_alone(ctx: StepContext, fns: str) -> None:
    bad = Record({"n": 2})
    result = MapStep(f"{fns}:boom", ctx).apply([Record({"n": 1}), bad, Record({"n": 3})])
    assert kept_values(result) == [{"n": 1}, {"n": 3}]
    assert len(result.failed) == 1
    record, error = result.failed[0]
    assert record is bad
    assert isinstance(error, RuntimeError) and str(error) == "bad record 2"


def test_map_a_non_dict_result_fails_that_record_only(ctx: StepContext, fns: str) -> None:
    result = MapStep(f"{fns}:to_text", ctx).apply(records({"n": 1}))
    assert result.kept == []
    assert len(result.failed) == 1
    assert isinstance(result.failed[0][1], TypeError)


def test_filter_keeps_records_the_function_accepts(ctx: StepContext, fns: str) -> None:
    step = FilterStep(f"{fns}:is_even", ctx)
    bad = Record({"n": -1})
    result = step.apply([*records({"n": 1}, {"n": 2}), bad, *records({"n": 4})])
    assert step.name == f"filter:{fns}:is_even"
    assert kept_values(result) == [{"n": 2}, {"n": 4}]
    assert result.quarantined == []
    assert [(r, type(e)) for r, e in result.failed] == [(bad, ValueError)]


def test_python_steps_are_map_steps_named_python(ctx: StepContext, fns: str) -> None:
    (step,) = build_steps(declare({"python": f"{fns}:double"}), ctx)
    assert isinstance(step, MapStep)
    assert step.name == f"python:{fns}:double"
    assert kept_values(step.apply(records({"n": 5}))) == [{"n": 10}]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("FNS:absent", "has no function absent"),
        ("FNS:NOT_A_FUNCTION", "has no function NOT_A_FUNCTION"),
        ("flowtest_no_such_module:f", "cannot import flowtest_no_such_module from"),
    ],
)
def test_map_and_filter_refuse_bad_references(
    ctx: StepContext, fns: str, ref: str, message: str
) -> None:
    ref = ref.replace("FNS", fns)
    for kind in ("map", "filter"):
        with pytest.raises(ComindError, match=f"flow f: step 1 \\({kind}\\): .*{message}"):
            build_steps(declare({kind: ref}), ctx)


# -- route


def test_route_sets_the_sink_from_a_field_map(ctx: StepContext) -> None:
    step = Route(
        config("route", {"field": "country", "map": {"FR": "eu", "US": "us", "1": "one"}}), ctx
    )
    fr, us, one = Record({"country": "FR"}), Record({"country": "US"}), Record({"country": 1})
    result = step.apply([fr, us, one])
    assert result.kept == [fr, us, one]
    assert [r.route for r in result.kept] == ["eu", "us", "one"]


def test_route_falls_back_to_the_default(ctx: StepContext) -> None:
    step = Route(config("route", {"field": "country", "map": {"FR": "eu"}, "default": "rest"}), ctx)
    result = step.apply(records({"country": "JP"}, {"other": 1}))
    assert [r.route for r in result.kept] == ["rest", "rest"]
    assert result.quarantined == []


def test_route_without_a_match_or_default_quarantines(ctx: StepContext) -> None:
    step = Route(config("route", {"field": "country", "map": {"FR": "eu"}}), ctx)
    lost = Record({"country": "JP"})
    result = step.apply([lost, Record({"country": "FR"})])
    assert [r.route for r in result.kept] == ["eu"]
    assert len(result.quarantined) == 1
    q = result.quarantined[0]
    assert (q.record, q.step, q.reasons) == (lost, "route", ["country: no route for its value"])


def test_route_by_a_function(ctx: StepContext, fns: str) -> None:
    step = Route(config("route", {"by": f"{fns}:by_region"}), ctx)
    result = step.apply(records({"region": "eu"}, {"nope": 1}))
    assert [r.route for r in result.kept] == ["eu-sink"]
    assert len(result.failed) == 1 and isinstance(result.failed[0][1], KeyError)


def test_route_by_a_function_returning_none_quarantines(ctx: StepContext, fns: str) -> None:
    result = Route(config("route", {"by": f"{fns}:no_route"}), ctx).apply(records({"n": 1}))
    assert result.kept == []
    assert len(result.quarantined) == 1


@pytest.mark.parametrize("conf", [None, "country", {"map": {"a": "b"}}])
def test_route_needs_a_field_or_a_function(conf: Any) -> None:
    with pytest.raises(ValidationError, match=r"route"):
        config("route", conf)


# -- anonymize


def test_anonymize_hashes_masks_and_redacts(ctx: StepContext) -> None:
    step = Anonymize(
        config("anonymize", {"email": "hash", "card": "mask", "ssn": "redact", "nick": "mask"}), ctx
    )
    result = step.apply(
        records(
            {"email": "ada@example.com", "card": "4111111111111111", "ssn": "123", "n": 1},
            {"email": None, "card": 12345678, "nick": None},
        )
    )
    assert kept_values(result) == [
        {  # an HMAC under the PII key, not a plain SHA-256 a dictionary reverses; ssn removed
            "email": hmac.new(b"h" * 32, b"ada@example.com", hashlib.sha256).hexdigest(),
            "card": "************1111",
            "n": 1,
        },
        {"email": None, "card": "********", "nick": None},  # 8 characters or fewer: masked whole
    ]
    assert result.quarantined == [] and result.failed == []


def test_anonymize_hash_is_stable_so_joins_still_work(ctx: StepContext) -> None:
    step = Anonymize(config("anonymize", {"id": "hash"}), ctx)
    a, b, c = kept_values(step.apply(records({"id": 7}, {"id": "7"}, {"id": 8})))
    assert a["id"] == b["id"] != c["id"]
    assert len(a["id"]) == 64


def test_anonymize_encrypts_under_the_flow_data_key_and_tokenize_needs_the_vault(
    ctx: StepContext,
) -> None:
    step = Anonymize(config("anonymize", {"ssn": "encrypt"}), ctx)
    (value,) = kept_values(step.apply(records({"ssn": "123-45-6789"})))
    assert value["ssn"].startswith("enc:v1:dk-test:") and "6789" not in value["ssn"]
    assert decrypt_value(lambda _: b"d" * 32, value["ssn"], "flow/f/ssn") == "123-45-6789"
    with pytest.raises(ComindError, match="tokenizes PII fields but has no token vault"):
        Anonymize(config("anonymize", {"pan": "tokenize"}), ctx).apply(records({"pan": "4111"}))


def test_anonymize_needs_a_mapping_of_actions() -> None:
    with pytest.raises(ValidationError, match="anonymize\n  Input should be a valid dictionary"):
        config("anonymize", ["ssn"])


# -- quality


def test_quality_not_null(ctx: StepContext) -> None:
    step = Quality(config("quality", [{"not_null": ["id", "email"]}]), ctx)
    result = step.apply(records({"id": 1, "email": "a"}, {"id": None}))
    assert kept_values(result) == [{"id": 1, "email": "a"}]
    assert result.quarantined[0].step == "quality"
    assert result.quarantined[0].reasons == ["not_null id", "not_null email"]


def test_quality_range_is_inclusive_and_rejects_non_numbers(ctx: StepContext) -> None:
    step = Quality(config("quality", [{"range": {"age": [0, 130]}}]), ctx)
    result = step.apply(
        records({"age": 0}, {"age": 130}, {"age": "42"}, {"age": None}, {"age": -1}, {"age": "x"})
    )
    assert kept_values(result) == [{"age": 0}, {"age": 130}, {"age": "42"}, {"age": None}]
    assert [q.reasons for q in result.quarantined] == [
        ["range age [0, 130]"],
        ["range age [0, 130]"],
    ]


def test_quality_accepted(ctx: StepContext) -> None:
    step = Quality(config("quality", [{"accepted": {"status": ["new", "paid"]}}]), ctx)
    result = step.apply(records({"status": "paid"}, {"status": "lost"}))
    assert kept_values(result) == [{"status": "paid"}]
    assert result.quarantined[0].reasons == ["accepted status [new, paid]"]


def test_quality_regex_must_match_the_whole_value(ctx: StepContext) -> None:
    step = Quality(config("quality", [{"regex": {"sku": r"[A-Z]{3}-\d+"}}]), ctx)
    result = step.apply(records({"sku": "ABC-12"}, {"sku": "xABC-12"}, {"sku": "ABC-12x"}))
    assert kept_values(result) == [{"sku": "ABC-12"}]
    assert [q.reasons for q in result.quarantined] == [
        [r"regex sku [A-Z]{3}-\d+"],
        [r"regex sku [A-Z]{3}-\d+"],
    ]


def test_quality_unique_within_one_batch(ctx: StepContext) -> None:
    step = Quality(config("quality", [{"unique": ["a", "b"]}]), ctx)
    result = step.apply(records({"a": 1, "b": 1}, {"a": 1, "b": 2}, {"a": 1, "b": 1}))
    assert kept_values(result) == [{"a": 1, "b": 1}, {"a": 1, "b": 2}]
    assert result.quarantined[0].reasons == ["unique a,b"]
    # the next batch starts afresh
    assert kept_values(step.apply(records({"a": 1, "b": 1}))) == [{"a": 1, "b": 1}]


def test_quality_lists_every_rule_a_record_breaks(ctx: StepContext) -> None:
    step = Quality(
        config("quality", {"not_null": ["id"], "range": {"n": [1, 2]}, "accepted": {"s": ["a"]}}),
        ctx,
    )
    result = step.apply(records({"id": None, "n": 3, "s": "b"}))
    assert result.quarantined[0].reasons == [
        "not_null id",
        "range n [1, 2]",
        "accepted s [a]",
    ]


def test_quality_unknown_rule_is_refused_by_the_spec() -> None:
    with pytest.raises(ValidationError, match="expected one rule of not_null, unique"):
        config("quality", [{"positive": ["n"]}])


# -- build_steps


def test_build_steps_in_declared_order(tmp_path: Path, ctx: StepContext, fns: str) -> None:
    (tmp_path / "s.json").write_text(json.dumps(SCHEMA))
    built = build_steps(
        declare(
            {"validate": "s.json"},
            {"cleanse": {"trim": ["a"]}},
            {"map": f"{fns}:double"},
            {"filter": f"{fns}:is_even"},
            {"route": {"field": "a", "default": "x"}},
            {"anonymize": {"a": "hash"}},
            {"quality": [{"not_null": ["a"]}]},
            {"aggregate": {"count": "n"}},
        ),
        ctx,
    )
    assert [type(s) for s in built] == [
        Validate,
        Cleanse,
        MapStep,
        FilterStep,
        Route,
        Anonymize,
        Quality,
        Aggregate,
    ]


def test_build_steps_unknown_kind_names_the_step(ctx: StepContext) -> None:
    with pytest.raises(ComindError, match=r"^flow f: step 2 \(encrypt\): encrypt is not available"):
        build_steps(declare({"cleanse": {}}, {"encrypt": {"a": "k"}}), ctx)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"validate": "nope.json"}, r"^flow f: step 1 \(validate\): cannot read JSON Schema"),
        ({"enrich": {"table": "a/b", "by": "id"}}, r"^flow f: step 1 \(enrich\): enrich needs"),
    ],
)
def test_build_steps_a_step_that_cannot_be_built_names_the_step(
    ctx: StepContext, entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(ComindError, match=message):
        build_steps(declare(entry), ctx)


@pytest.mark.parametrize(
    "entry",
    [
        {"cleanse": {"bogus": 1}},
        {"quality": [{"positive": ["n"]}]},
        {"quality": "not_null"},
        {"quality": [{"not_null": ["a"], "unique": ["a"]}]},
        {"quality": [{"range": {"n": [2, 1]}}]},
        {"quality": [{"range": {"n": 5}}]},
        {"quality": [{"regex": {"n": "[a-"}}]},
        {"route": {}},
        {"route": {"by": 5}},
        {"aggregate": None},
        {"cleanse": {"types": ["a"]}},
        {"cleanse": {"dedupe": {"key": ["a"], "window": "ten minutes"}}},
        {"enrich": {"table": "a/b", "by": "id", "ttl": "5 min"}},
        {"anonymize": {"a": ["hash"]}},
        {"transmogrify": {}},
        {"map": "no-colon"},
        {"filter": "a.b"},
        {"cleanse": {}, "map": "m:f"},
    ],
)
def test_a_bad_declaration_is_refused_by_the_spec(entry: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        declare(entry)


def test_durations_in_steps_are_typed_once() -> None:
    enrich, cleanse = declare(
        {"enrich": {"table": "orders/customers", "by": "customer_id", "ttl": "5m"}},
        {"cleanse": {"dedupe": {"key": ["id"], "window": "1h30m"}}},
    )
    assert isinstance(enrich, declared.EnrichStep) and isinstance(cleanse, declared.CleanseStep)
    assert enrich.enrich.ttl == timedelta(minutes=5)
    assert cleanse.cleanse.dedupe is not None
    assert cleanse.cleanse.dedupe.window == timedelta(hours=1, minutes=30)


def test_build_steps_enrich_uses_the_context_lookup(tmp_path: Path) -> None:
    seen: list[declared.Enrich] = []
    sentinel = Aggregate(config("aggregate", {"group_by": ["a"], "count": "n"}))

    def lookup(conf: declared.Enrich) -> Any:
        seen.append(conf)
        return sentinel

    ctx = StepContext(flow="f", root=tmp_path, lookup=lookup)
    entry = {"enrich": {"table": "crm/customers", "by": "id", "ttl": "5m"}}
    assert build_steps(declare(entry), ctx) == [sentinel]
    assert [(c.table, c.by, c.ttl) for c in seen] == [("crm/customers", "id", timedelta(minutes=5))]
