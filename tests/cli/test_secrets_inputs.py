"""``wfc run`` input messages never quote a masked variable's value."""

from __future__ import annotations

import pytest

from wfc.cli.errors import CliError
from wfc.cli.inputs import describe_variables, parse_inputs
from wfc.specs import VariableDef

VARIABLES = {
    "pin": VariableDef(type="int", masked=True),
    "api-key": VariableDef(type="str", default="key-hunter22", masked=True),
    "count": VariableDef(type="int", default=3),
}


def test_the_variables_listing_hides_masked_defaults() -> None:
    assert describe_variables(VARIABLES) == "api-key (str, default ***), count (int, default 3), pin (int)"


def test_a_bad_value_of_a_masked_variable_is_not_quoted() -> None:
    with pytest.raises(CliError) as caught:
        parse_inputs("w", VARIABLES, ["pin=hunter22", "count=many"])
    message = str(caught.value)
    assert "hunter22" not in message
    assert "--input pin=***: variable 'pin' is declared int (and masked" in message
    assert "--input count='many'" in message  # an ordinary value is still quoted
