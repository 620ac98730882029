"""``loads`` checks user task nodes, their timers and the spec's forms, each
refusal naming the exact ``$.``-path of the offending field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from wfc.specs import SpecError, UserTaskNode, loads, referenced_vars

Doc = dict[str, Any]
Load = Callable[[Any], SpecError]
UT = "$.threads.main.nodes.ask"

USER_TASK_DOC: Doc = {
    "schema": "wfc/2",
    "name": "card",
    "version": {"major": 1, "revision": 0},
    "entrypoint": "main",
    "variables": {"customer": {"type": "str", "required": True}},
    "forms": {
        "update-card": {
            "name": "update-card",
            "fields": [
                {"name": "card_token", "type": "str", "display_name": "New card", "description": "The new card"},
                {"name": "note", "type": "str", "required": False},
            ],
        }
    },
    "threads": {
        "main": {
            "nodes": {
                "entrypoint": {"kind": "entrypoint", "edges": [{"to": "ask"}]},
                "ask": {
                    "kind": "user_task",
                    "form": "update-card",
                    "user": {"kind": "var", "name": "customer"},
                    "group": {"kind": "literal", "value": "support"},
                    "notes": {"kind": "literal", "value": "Your card expired"},
                    "timers": [
                        {"after": 86400, "action": "remind", "task": "send-reminder",
                         "args": [{"kind": "var", "name": "customer"}]},
                        {"after": 259200, "action": "reassign", "group": {"kind": "literal", "value": "support"}},
                        {"after": 3600, "action": "release"},
                        {"after": 604800, "action": "cancel"},
                    ],
                    "edges": [{"to": "exit"}],
                },
                "exit": {"kind": "exit", "edges": []},
            }
        }
    },
}


@pytest.fixture
def doc() -> Doc:
    return copy.deepcopy(USER_TASK_DOC)


def ask(doc: Doc) -> dict[str, Any]:
    node: dict[str, Any] = doc["threads"]["main"]["nodes"]["ask"]
    return node


def timer(doc: Doc, index: int) -> dict[str, Any]:
    found: dict[str, Any] = ask(doc)["timers"][index]
    return found


def test_a_valid_user_task_loads(doc: Doc) -> None:
    spec = loads(json.dumps(doc))
    node = spec.threads["main"].nodes["ask"]
    assert isinstance(node, UserTaskNode)
    assert [t.action for t in node.timers] == ["remind", "reassign", "release", "cancel"]
    assert spec.forms["update-card"].field("note") is not None
    assert referenced_vars(node) == {"customer"}


def test_timer_expressions_are_walked_for_undeclared_variables(doc: Doc, spec_error: Load) -> None:
    timer(doc, 0)["args"].append({"kind": "var", "name": "nobody"})
    error = spec_error(doc)
    assert (error.path, error.reason) == (f"{UT}.timers[0].args[1]", "variable 'nobody' is not declared")


def test_reassign_timer_user_is_walked_for_undeclared_variables(doc: Doc, spec_error: Load) -> None:
    timer(doc, 1)["user"] = {"kind": "var", "name": "lead"}
    error = spec_error(doc)
    assert (error.path, error.reason) == (f"{UT}.timers[1].user", "variable 'lead' is not declared")


def test_node_expressions_are_walked_for_undeclared_variables(doc: Doc, spec_error: Load) -> None:
    ask(doc)["notes"] = {"kind": "var", "name": "message"}
    error = spec_error(doc)
    assert (error.path, error.reason) == (f"{UT}.notes", "variable 'message' is not declared")


def test_an_output_of_a_node_not_in_the_thread(doc: Doc, spec_error: Load) -> None:
    ask(doc)["user"] = {"kind": "output", "node": "lookup", "path": ["login"]}
    error = spec_error(doc)
    assert (error.path, error.reason) == (f"{UT}.user", "output of node 'lookup', which is not in this thread")


def mutate_case(path: str, reason: str) -> Callable[[Callable[[Doc], None]], Any]:
    def wrap(fn: Callable[[Doc], None]) -> Any:
        return pytest.param(fn, path, reason, id=fn.__name__)

    return wrap


@mutate_case(f"{UT}.form", "form 'nope' is not in the spec's forms (forms: update-card)")
def unknown_form(doc: Doc) -> None:
    ask(doc)["form"] = "nope"


@mutate_case(f"{UT}.form", "form 'update-card' is not in the spec's forms (forms: none)")
def no_forms(doc: Doc) -> None:
    del doc["forms"]


@mutate_case(f"{UT}.user", "a user task needs a user or a group (or both), so someone can see it")
def nobody(doc: Doc) -> None:
    del ask(doc)["user"], ask(doc)["group"]


@mutate_case(f"{UT}.group", "group must be a string, got int")
def group_number(doc: Doc) -> None:
    ask(doc)["group"] = {"kind": "literal", "value": 7}


@mutate_case(f"{UT}.user", "user is an empty string; leave it out instead")
def user_empty(doc: Doc) -> None:
    ask(doc)["user"] = {"kind": "literal", "value": " "}


@mutate_case(f"{UT}.notes", "notes must be a string, got list")
def notes_list(doc: Doc) -> None:
    ask(doc)["notes"] = {"kind": "literal", "value": ["a"]}


@mutate_case(f"{UT}.timers[0].after", "after must be > 0 seconds")
def after_zero(doc: Doc) -> None:
    timer(doc, 0)["after"] = 0


@mutate_case(f"{UT}.timers[3].after", "after must be > 0 seconds")
def after_negative(doc: Doc) -> None:
    timer(doc, 3)["after"] = -60


@mutate_case(f"{UT}.timers[2].after", "a duration may be at most 3153600000 seconds (100 years)")
def after_too_long(doc: Doc) -> None:
    timer(doc, 2)["after"] = 10**10


@mutate_case(f"{UT}.timers[0].task", "a remind timer needs the name of the task it runs")
def remind_without_task(doc: Doc) -> None:
    del timer(doc, 0)["task"]


@mutate_case(f"{UT}.timers[0].task", "task name contains a NUL character, which the database cannot store")
def remind_task_nul(doc: Doc) -> None:
    timer(doc, 0)["task"] = "a\x00b"


@mutate_case(f"{UT}.timers[0].user", "a remind timer has no user; only reassign timers have one")
def remind_with_user(doc: Doc) -> None:
    timer(doc, 0)["user"] = {"kind": "literal", "value": "ann"}


@mutate_case(f"{UT}.timers[1].user", "a reassign timer needs a user or a group (or both)")
def reassign_nobody(doc: Doc) -> None:
    del timer(doc, 1)["group"]


@mutate_case(f"{UT}.timers[1].group", "group is an empty string; leave it out instead")
def reassign_empty_group(doc: Doc) -> None:
    timer(doc, 1)["group"] = {"kind": "literal", "value": ""}


@mutate_case(f"{UT}.timers[1].task", "a reassign timer runs no task; only remind timers have one")
def reassign_with_task(doc: Doc) -> None:
    timer(doc, 1)["task"] = "x"


@mutate_case(f"{UT}.timers[3].args", "a cancel timer takes no args; only remind timers have them")
def cancel_with_args(doc: Doc) -> None:
    timer(doc, 3)["args"] = [{"kind": "literal", "value": 1}]


@mutate_case(f"{UT}.timers[2].group", "a release timer has no group; only reassign timers have one")
def release_with_group(doc: Doc) -> None:
    timer(doc, 2)["group"] = {"kind": "literal", "value": "x"}


@mutate_case(f"{UT}.timers[1].action", "Invalid enum value 'escalate'")
def unknown_action(doc: Doc) -> None:
    timer(doc, 1)["action"] = "escalate"


@mutate_case("$.forms.update-card.name", "the form under 'update-card' is named 'other'; file each form under its "
             "own name")
def form_misfiled(doc: Doc) -> None:
    doc["forms"]["update-card"]["name"] = "other"


@mutate_case("$.forms.bad name", "form name 'bad name' must be letters, digits, '_', '-', '.' or ':'")
def form_bad_name(doc: Doc) -> None:
    doc["forms"]["bad name"] = {"name": "bad name"}


@mutate_case("$.forms.update-card.fields[1].name", "form 'update-card' has two fields named 'card_token'")
def duplicate_field(doc: Doc) -> None:
    doc["forms"]["update-card"]["fields"][1]["name"] = "card_token"


@mutate_case("$.forms.update-card.fields[0].name",
             "field name '9lives' must start with a letter or '_' and be letters, digits, '_', '-', '.' or ':'")
def field_bad_name(doc: Doc) -> None:
    doc["forms"]["update-card"]["fields"][0]["name"] = "9lives"


@mutate_case("$.forms.update-card.fields[0].type", "Invalid enum value 'date'")
def field_bad_type(doc: Doc) -> None:
    doc["forms"]["update-card"]["fields"][0]["type"] = "date"


@mutate_case("$.forms.update-card.fields[0].display_name", "display_name is empty; leave it out to show the "
             "field's name")
def field_empty_label(doc: Doc) -> None:
    doc["forms"]["update-card"]["fields"][0]["display_name"] = ""


@mutate_case("$.forms.update-card.fields[0].description",
             "description contains a NUL character, which the database cannot store")
def field_description_nul(doc: Doc) -> None:
    doc["forms"]["update-card"]["fields"][0]["description"] = "a\x00"


CASES = [unknown_form, no_forms, nobody, group_number, user_empty, notes_list, after_zero, after_negative,
         after_too_long, remind_without_task, remind_task_nul, remind_with_user, reassign_nobody,
         reassign_empty_group, reassign_with_task, cancel_with_args, release_with_group, unknown_action,
         form_misfiled, form_bad_name, duplicate_field, field_bad_name, field_bad_type, field_empty_label,
         field_description_nul]


@pytest.mark.parametrize(("mutate", "path", "reason"), CASES)
def test_bad_user_tasks_and_forms(doc: Doc, spec_error: Load, mutate: Callable[[Doc], None], path: str,
                                  reason: str) -> None:
    mutate(doc)
    error = spec_error(doc)
    assert (error.path, error.reason) == (path, reason)
