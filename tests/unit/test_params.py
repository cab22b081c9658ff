"""Param schemas and the validation of trigger conf against them (no DB)."""

from __future__ import annotations

import pytest

from flowctl import Param
from flowctl.exceptions import InvalidInput, ParamValidationError
from flowctl.params import normalize_params, resolve_params

PARAMS = {
    "batch": Param(10, type="integer", minimum=1, maximum=100, description="rows per batch"),
    "mode": Param("full", enum=["full", "incremental"]),
    "label": Param("abc", type="string", minLength=3),
}


def test_param_keeps_its_default_description_and_schema_keywords() -> None:
    param = PARAMS["batch"]

    assert param.default == 10
    assert param.description == "rows per batch"
    assert param.schema == {"type": "integer", "minimum": 1, "maximum": 100}
    assert param.has_default


def test_resolve_params_without_conf_gives_the_defaults() -> None:
    assert resolve_params(PARAMS, None) == {"batch": 10, "mode": "full", "label": "abc"}


def test_conf_is_merged_over_the_defaults() -> None:
    assert resolve_params(PARAMS, {"batch": 50, "mode": "incremental"}) == {
        "batch": 50,
        "mode": "incremental",
        "label": "abc",
    }


def test_conf_keys_without_a_param_pass_through() -> None:
    assert resolve_params(PARAMS, {"extra": [1, 2]})["extra"] == [1, 2]


def test_resolved_values_are_copies_so_a_task_cannot_change_the_default() -> None:
    params = {"tables": Param(["a"], type="array")}

    resolve_params(params, None)["tables"].append("b")

    assert params["tables"].default == ["a"]


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"batch": "ten"}, "param 'batch': 'ten' is not of type 'integer'"),
        ({"batch": 0}, "param 'batch': 0 is less than the minimum of 1"),
        ({"batch": 101}, "param 'batch': 101 is greater than the maximum of 100"),
        ({"mode": "partial"}, "param 'mode': 'partial' is not one of \\['full', 'incremental'\\]"),
        ({"label": "ab"}, "param 'label': 'ab' is too short"),
    ],
)
def test_conf_breaking_a_schema_is_refused_naming_the_param_and_the_reason(
    conf: dict[str, object], message: str
) -> None:
    with pytest.raises(ParamValidationError, match=message):
        resolve_params(PARAMS, conf)


def test_required_param_without_default_must_come_from_conf() -> None:
    params = {"target_day": Param(type="string", format="date")}

    with pytest.raises(ParamValidationError, match="param 'target_day' is required and has no default"):
        resolve_params(params, {})
    assert resolve_params(params, {"target_day": "2024-01-01"}) == {"target_day": "2024-01-01"}


def test_format_keyword_is_checked() -> None:
    params = {"target_day": Param("2024-01-01", type="string", format="date")}

    with pytest.raises(ParamValidationError, match=r"param 'target_day'.*is not a 'date'"):
        resolve_params(params, {"target_day": "yesterday"})


def test_param_validation_error_is_an_invalid_input_error() -> None:
    assert issubclass(ParamValidationError, InvalidInput)


def test_invalid_schema_is_reported_when_the_default_is_checked() -> None:
    with pytest.raises(ParamValidationError, match="param 'count' has an invalid schema"):
        Param(1, type="integr").validate_default("count")


def test_invalid_schema_is_reported_even_without_a_default() -> None:
    with pytest.raises(ParamValidationError, match="param 'count' has an invalid schema"):
        Param(minimum="one").validate_default("count")


def test_invalid_schema_is_reported_when_conf_is_resolved() -> None:
    with pytest.raises(ParamValidationError, match="param 'count' has an invalid schema"):
        resolve_params({"count": Param(1, type="integr")}, {})


def test_default_that_breaks_its_schema_is_reported_at_parse_time() -> None:
    with pytest.raises(ParamValidationError, match="param 'batch': 0 is less than the minimum of 1"):
        Param(0, type="integer", minimum=1).validate_default("batch")


def test_none_default_is_not_checked_against_the_schema() -> None:
    Param(None, type="integer").validate_default("optional")


def test_plain_values_become_params_without_schema() -> None:
    params = normalize_params({"region": "eu", "batch": PARAMS["batch"]})

    assert params["region"].default == "eu"
    assert params["region"].schema == {}
    assert params["batch"] is PARAMS["batch"]


def test_param_round_trips_through_to_dict() -> None:
    for param in [*PARAMS.values(), Param(type="string")]:
        copy = Param.from_dict(param.to_dict())

        assert (copy.default if copy.has_default else None) == (param.default if param.has_default else None)
        assert copy.has_default == param.has_default
        assert (copy.schema, copy.description) == (param.schema, param.description)
