"""A mapping file of the wrong shape (:func:`parse_mapping`) is refused with
the key path of the entry and what it should hold, in the words of JSON and
TOML: never ``None``, a Python repr or a Python type name."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from rtversions import NEW_REQUIRED, RENAMED, V1

from wfc.runtime.migration_plan import MappingError, parse_mapping
from wfc.specs import WorkflowSpec

_PYTHON = ("None", "NoneType", "{'", "datetime", "Python", "dict", "list")


def _refusal(mapping: Any, new: WorkflowSpec = RENAMED) -> str:
    with pytest.raises(MappingError) as raised:
        parse_mapping(mapping, V1, new)
    message = str(raised.value)
    assert not any(word in message for word in _PYTHON), message
    return message


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"nodes": None}, "`nodes` maps thread names to tables of old node id = new node id, not null"),
        ({"nodes": {"main": None}}, "nodes.main: a table of old node id = new node id, not null"),
        ({"nodes": {"main": {"ship": None}}},
         "nodes.main.ship: give the id of a node of version 1.1 in thread 'main' as a string (e.g. \"ship\"), "
         "not null"),
        ({"nodes": {"main": {"ship": {"x": 1}}}}, "nodes.main.ship: give the id of a node of version 1.1 in thread "
                                                  "'main' as a string (e.g. \"ship\"), not a table (JSON object)"),
        ({"nodes": {"main": {"ship": 3}}}, "not a number"),
        ({"nodes": {"a.b": {}}}, 'nodes."a.b": version 1.0 has no thread \'a.b\''),
        ({"variables": [1]}, "`variables` maps variable names of the new version to values, not an array"),
        (5, "a mapping is a table (a JSON object) with `nodes` and `variables`, not a number"),
    ],
)  # fmt: skip
def test_a_misshapen_mapping_names_the_entry_and_what_it_should_hold(mapping: Any, message: str) -> None:
    assert message in _refusal(mapping)


def test_a_value_of_the_wrong_type_is_shown_as_json() -> None:
    message = _refusal({"variables": {"channel": {"x": 1}}}, NEW_REQUIRED)
    assert message == 'variables.channel: expected str, got object {"x": 1}'


def test_null_is_no_value_for_a_required_variable() -> None:
    assert _refusal({"variables": {"channel": None}}, NEW_REQUIRED) == (
        "variables.channel: variable 'channel' is required in version 2.0; give a str value, not null"
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("variables.channel = 1979-05-27T07:32:00Z", "variables.channel: a TOML date-time is not a JSON value"),
        ("variables.channel = [1, 1979-05-27]", "variables.channel[1]: a TOML date is not a JSON value"),
        ("nodes.main.ship = 07:32:00", "nodes.main.ship: give the id of a node of version 1.1 in thread 'main' as a "
                                       'string (e.g. "ship"), not a TOML time'),
    ],
)  # fmt: skip
def test_toml_dates_and_times_are_named_as_toml_names_them(toml: str, message: str) -> None:
    new = NEW_REQUIRED if toml.startswith("variables") else RENAMED
    assert message in _refusal(tomllib.loads(toml), new)
