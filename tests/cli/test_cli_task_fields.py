"""``wfc tasks complete --field name=value``: values parsed by the form's
field types, every problem named at once with the field and its type."""

from __future__ import annotations

import io

import pytest

from wfc.cli.errors import CliError
from wfc.cli.task_fields import describe_fields, parse_fields
from wfc.specs import FieldDef, FormDef

FORM = FormDef(
    name="review",
    fields=[
        FieldDef(name="approved", type="bool"),
        FieldDef(name="amount", type="float", display_name="Amount (EUR)"),
        FieldDef(name="count", type="int", required=False),
        FieldDef(name="note", type="str", required=False),
        FieldDef(name="extra", type="json", required=False),
    ],
)


def refusal(*pairs: str, values: str | None = None) -> str:
    with pytest.raises(CliError) as caught:
        parse_fields(FORM, list(pairs), values)
    return str(caught.value)


def test_each_field_is_read_as_its_type() -> None:
    values = parse_fields(
        FORM,
        ["approved=yes", "amount=12.5", "count= 3", "note=looks fine = ok", 'extra={"a": [1, null]}'],
    )
    assert values == {
        "approved": True, "amount": 12.5, "count": 3, "note": "looks fine = ok", "extra": {"a": [1, None]}
    }
    assert type(values["count"]) is int


def test_values_json_is_the_base_and_fields_go_on_top() -> None:
    values = parse_fields(FORM, ["amount=7"], '{"approved": false, "amount": 1, "note": "x"}')
    assert values == {"approved": False, "amount": 7.0, "note": "x"}


def test_values_from_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"approved": true, "amount": 2}'))
    assert parse_fields(FORM, [], "-") == {"approved": True, "amount": 2}


def test_a_bad_value_names_the_field_its_type_and_the_value() -> None:
    message = refusal("approved=true", "amount=12,50")
    assert message == (
        "cannot complete a task of form 'review': --field amount='12,50': field 'amount' is float, "
        "and '12,50' is not a number (e.g. 12.5)"
    )


def test_every_problem_at_once_missing_required_fields_too() -> None:
    message = refusal("count=many", "colour=red", "oops", "extra={bad")
    lines = message.splitlines()
    assert lines[0] == "cannot complete a task of form 'review':"
    assert "  --field count='many': field 'count' is int, and 'many' is not an integer (e.g. 42)" in lines
    assert any(line.startswith("  --field colour: form 'review' has no field 'colour'; its fields are approved (bool, "
                               "required), amount (float, required), count (int)") for line in lines)
    assert "  --field 'oops' is not NAME=VALUE (e.g. --field approved=true)" in lines
    bad_json = "  --field extra='{bad': field 'extra' is json, and '{bad' is not JSON"
    assert any(line.startswith(bad_json) for line in lines)
    assert ("  field 'approved': required (bool), but no value was given (give it with --field approved=true)"
            in lines)
    assert "  field 'amount': required (float), but no value was given (give it with --field amount=12.5)" in lines
    assert len(lines) == 7  # a bad --field value is not also reported missing


def test_values_json_of_the_wrong_type_or_unknown_fields() -> None:
    message = refusal(values='{"approved": "yes", "amount": 3, "colour": 1}')
    assert "field 'colour': not a field of form 'review'" in message
    assert "field 'approved': must be bool, got str 'yes' (give it with --field approved=true)" in message


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ("[1, 2]", "--values: expected a JSON object of field name to value"),
        ("{nope", "--values: the text given is not JSON"),
        ('{"amount": NaN}', "NaN is not JSON"),
    ],
)
def test_bad_values_json(values: str, needle: str) -> None:
    assert needle in refusal(values=values)


def test_non_finite_floats_are_refused() -> None:
    assert "NaN and infinities cannot be stored" in refusal("approved=1", "amount=inf")


def test_a_form_without_fields() -> None:
    empty = FormDef(name="ack")
    assert parse_fields(empty, []) == {}
    assert describe_fields(empty) == "none"
    with pytest.raises(CliError, match="form 'ack' has no field 'x'; its fields are none"):
        parse_fields(empty, ["x=1"])
