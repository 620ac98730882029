"""Masked values in the pure interpreter: which variables are secret (taint),
what the journal and failures may say, and what a run's state keeps."""

from __future__ import annotations

import datetime as dt

import pytest
from rtdrive import Driver
from rtspec import call, edge, exit_, for_each, handler, mut, nop, op, out, spawn, spec, task, thread, var, variable

from wfc.runtime._records import RunInfo, ThreadInfo
from wfc.runtime.interpreter import Redactor, derive_spec_info
from wfc.runtime.interpreter.state import Failure, RunStatus, ThreadStatus
from wfc.specs import Version

CARD = "tok-4111-1111"


def _card_spec(*nodes: tuple[str, dict[str, object]], **extra: dict[str, object]) -> object:
    return spec(
        "w",
        list(nodes),
        variables={"card": variable("str", masked=True), "copy": variable("str"), "other": variable("str"), **extra},
    )


def test_a_variable_set_from_a_secret_is_masked_and_so_is_a_copy_of_it() -> None:
    s = spec(
        "w",
        [
            ("a", nop([edge("b", None, mut("copy", "assign", op(var("card"), "+", "!")))])),
            ("b", nop([edge("c", None, mut("other", "assign", var("copy")))])),
            ("c", nop([edge("d", None, mut("plain", "assign", "constant"))])),
            ("d", spawn("child", child_card=var("other"))),
            ("e", for_each("child", call("len", var("card")), item_var="n")),
            ("end", exit_()),
        ],
        variables={
            "card": variable("str", masked=True),
            "copy": variable("str"),
            "other": variable("str"),
            "plain": variable("str"),
        },
        threads={"child": thread([("end", exit_())], variables={"child_card": variable("str"), "n": variable("int")})},
    )
    assert derive_spec_info(s).masked == frozenset({"card", "copy", "other", "child_card", "n"})


def test_the_journal_never_shows_a_copied_secret() -> None:
    s = _card_spec(("a", nop([edge("end", None, mut("copy", "assign", var("card")))])), ("end", exit_(var("copy"))))
    d = Driver(s, {"card": CARD})
    assert d.state.status is RunStatus.COMPLETED
    assert CARD not in repr(d.journal)
    assert d.entries("VARIABLE_SET")[0]["value"] == "***"
    assert d.entries("RUN_COMPLETED")[0]["output"] == "***"


def test_an_expression_error_quoting_a_secret_is_recorded_without_it() -> None:
    s = _card_spec(("a", nop([edge("end", None, mut("other", "assign", call("int", var("card"))))])), ("end", exit_()))
    d = Driver(s, {"card": CARD})
    assert d.state.status is RunStatus.FAILED
    assert d.state.failure is not None and d.state.failure.name == "EXPRESSION_ERROR"
    assert d.state.failure.message == 'int() cannot parse "***" as an integer'
    assert CARD not in repr(d.journal) and CARD not in repr(d.state)


@pytest.mark.parametrize("business", [False, True], ids=["technical", "business"])
def test_a_task_failure_naming_the_secret_is_recorded_without_it(business: bool) -> None:
    s = _card_spec(("pay", task("pay", var("card"))), ("end", exit_()))
    d = Driver(s, {"card": CARD})
    d.fail_task("card-refused", f"card {CARD} is blocked", business=business, content={"card": CARD, "n": 7})
    failure = d.state.failure
    assert failure is not None and failure.message.startswith("card *** is blocked")
    assert failure.content == {"card": "***", "n": 7}
    assert CARD not in repr(d.journal)
    # The run may be retried: its state keeps the card for the retry (and nowhere but the variables and args).
    assert d.state.variables["card"] == CARD


def test_a_handled_failure_gives_the_handler_the_message_without_the_secret() -> None:
    s = spec(
        "w",
        [("pay", task("pay", var("card"), handlers=[handler("error", "on-error")])), ("end", exit_())],
        variables={"card": variable("str", masked=True)},
        threads={"on-error": [("end", exit_())]},
    )
    d = Driver(s, {"card": CARD})
    d.fail_task("TASK_ERROR", f"declined {CARD}")
    assert d.state.status is RunStatus.COMPLETED
    assert CARD not in repr(d.journal) and CARD not in repr(d.state)


def test_secrets_stay_in_the_state_while_the_run_needs_them_and_go_when_it_ends() -> None:
    s = _card_spec(("pay", task("pay", var("card"))), ("end", exit_(out("pay"))))
    d = Driver(s, {"card": CARD})
    assert d.dispatch().args == [CARD]  # the task gets the real value
    assert d.state.variables["card"] == CARD
    d.complete({"receipt": f"paid with {CARD}", "amount": 4111})
    assert d.state.status is RunStatus.COMPLETED
    assert d.state.variables["card"] == "***"
    assert d.state.output == {"receipt": "paid with ***", "amount": 4111}
    assert CARD not in repr(d.state)


def test_short_secrets_are_masked_where_they_stand_as_words() -> None:
    redactor = Redactor(["abc", "abcd", 12345, True, None, {"k": ["long-secret"]}])
    assert redactor.text("abc abcd 12345 long-secret") == "*** *** *** ***"
    shown = redactor.text("xabcx abc_1 cannot compute str 'abc' + int 1")
    assert shown == "xabcx abc_1 cannot compute str '***' + int 1"
    assert redactor.value({"x": ["abcd", 12345], "abcd": 1}) == {"x": ["***", 12345], "***": 1}
    cvv = Redactor([123, "e"])  # a CVV, a one-letter secret
    assert cvv.text('card e declined {"cvv": 123, "card": "e"}; attempt 1 of 1123') == (
        'card *** declined {"cvv": ***, "card": "***"}; attempt 1 of 1123'
    )
    assert not Redactor([False, None, ""])


def test_run_info_redacted_hides_masked_values_everywhere() -> None:
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    info = RunInfo(
        id="r",
        workflow="w",
        version=Version(major=1, revision=0),
        status=RunStatus.FAILED,
        variables={"card": CARD, "note": "hello", "unset": None},
        output={"echo": CARD},
        failure=Failure(name="X", message=f"bad {CARD}", content=[CARD]),
        created_at=moment,
        updated_at=moment,
        threads=(
            ThreadInfo(
                number=0,
                name="main",
                kind="entrypoint",
                parent=None,
                status=ThreadStatus.RUNNING,
                node="n",
                waiting_on=f"event 'go' with correlation {CARD!r}",
                attempt=None,
            ),
        ),
        masked=frozenset({"card", "unset"}),
    )
    shown = info.redacted()
    assert shown.variables == {"card": "***", "note": "hello", "unset": None}
    assert shown.output == {"echo": "***"}
    assert shown.failure == Failure(name="X", message="bad ***", content=["***"])
    assert shown.threads[0].waiting_on == "event 'go' with correlation '***'"
    assert CARD not in repr(shown)
    assert shown.redacted() == shown
    assert info.variables["card"] == CARD  # the original is unchanged
