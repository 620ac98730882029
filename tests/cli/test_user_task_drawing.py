"""User task nodes in every drawing: the form and who the task is for in
labels (``wfc graph`` Mermaid and dot, the server's layout), its timers in
the tree, and form changes in ``wfc diff``."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from wfc.cli.labels import duration_text, node_label, node_summary, timer_text
from wfc.cli.render_graph import to_dot, to_mermaid
from wfc.cli.render_tree import to_tree
from wfc.dsl import Field, UserTaskForm, Workflow, WorkflowThread
from wfc.server._layout import layout_thread
from wfc.specs import LiteralExpr, UserTaskNode, UserTaskTimer, VarRef, WorkflowSpec, dumps

FORM = UserTaskForm("update-card", card_token=Field(str))


def card(wf: WorkflowThread) -> None:
    customer = wf.declare_str("customer").required()
    ut = wf.assign_user_task(FORM, user=customer, group="support", notes="Your card expired")
    ut.remind_after(86400, "send-card-reminder", customer).reassign_after(3 * 86400, group="support")
    ut.cancel_after(7 * 86400)
    wf.handle_error(ut, lambda t: t.fail("no-card"), error="USER_TASK_CANCELLED")
    wf.execute("charge-card", customer, ut["card_token"])


@pytest.fixture(scope="module")
def spec() -> WorkflowSpec:
    return Workflow("card", card).compile()


def node(spec: WorkflowSpec) -> UserTaskNode:
    found = spec.threads["main"].nodes["user-task-update-card"]
    assert isinstance(found, UserTaskNode)
    return found


def test_summary_and_label(spec: WorkflowSpec) -> None:
    assert node_summary(node(spec)) == 'user_task update-card (user customer, group "support")'
    assert node_label("user-task-update-card", node(spec)) == (
        'user-task-update-card\nuser_task update-card\nuser customer, group "support"')


@pytest.mark.parametrize(("seconds", "text"), [(86400, "1d"), (259200, "3d"), (7200, "2h"), (5400, "90m"),
                                               (90, "90s"), (1.5, "1.5s"), (129600, "36h")])
def test_durations(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


@pytest.mark.parametrize(("timer", "text"), [
    (UserTaskTimer(after=86400, action="remind", task="nudge", args=[VarRef(name="customer")]),
     "after 1d: remind nudge(customer)"),
    (UserTaskTimer(after=60, action="reassign", user=LiteralExpr(value="bob"), group=LiteralExpr(value="leads")),
     'after 1m: reassign to user "bob", group "leads"'),
    (UserTaskTimer(after=3600, action="release"), "after 1h: release to its group"),
    (UserTaskTimer(after=10, action="cancel"), "after 10s: cancel"),
])
def test_timer_lines(timer: UserTaskTimer, text: str) -> None:
    assert timer_text(timer) == text


def test_the_tree_lists_the_timers_under_the_task(spec: WorkflowSpec) -> None:
    console = Console(width=200, record=True, color_system=None)
    console.print(to_tree(spec))
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    start = next(i for i, line in enumerate(lines) if "user-task-update-card  user_task" in line)
    assert [line.strip("│├└─ ") for line in lines[start:start + 5]] == [
        'user-task-update-card  user_task update-card (user customer, group "support")',
        "after 1d: remind send-card-reminder(customer)",
        'after 3d: reassign to group "support"',
        "after 7d: cancel",
        "on error USER_TASK_CANCELLED → thread user-task-update-card-on-user_task_cancelled",
    ]


def test_mermaid_and_dot_draw_a_parallelogram(spec: WorkflowSpec) -> None:
    mermaid = to_mermaid(spec, ["main"])
    assert ('main__user_task_update_card[/"user-task-update-card<br/>user_task update-card<br/>'
            'user customer, group #quot;support#quot;"/]') in mermaid
    dot = to_dot(spec, ["main"])
    assert ('"main/user-task-update-card" [label="user-task-update-card\\nuser_task update-card\\n'
            'user customer, group \\"support\\"", shape=parallelogram];') in dot


def test_the_server_layout_gives_the_task_three_lines(spec: WorkflowSpec) -> None:
    layout = layout_thread("main", spec.threads["main"])
    box = next(b for b in layout.nodes if b.id == "user-task-update-card")
    assert box.kind == "user_task"
    assert box.lines == ["user-task-update-card", "user_task update-card", 'user customer, group "support"']
    task = next(b for b in layout.nodes if b.id == "charge-card")
    assert box.height > task.height


def test_wfc_graph_tree_on_a_compiled_file(spec: WorkflowSpec, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from wfc.cli.app import app

    path = tmp_path / "card.json"
    path.write_bytes(dumps(spec))
    done = CliRunner().invoke(app, ["graph", str(path), "-f", "tree"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert done.exit_code == 0, done.output
    assert "after 3d: reassign to group" in done.output


def test_wfc_diff_shows_a_breaking_form_change(spec: WorkflowSpec, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from wfc.cli.app import app

    stricter = UserTaskForm("update-card", card_token=Field(str), cvc=Field(str))

    def card_v2(wf: WorkflowThread) -> None:
        customer = wf.declare_str("customer").required()
        ut = wf.assign_user_task(stricter, user=customer, group="support", notes="Your card expired")
        ut.remind_after(86400, "send-card-reminder", customer).reassign_after(3 * 86400, group="support")
        ut.cancel_after(7 * 86400)
        wf.handle_error(ut, lambda t: t.fail("no-card"), error="USER_TASK_CANCELLED")
        wf.execute("charge-card", customer, ut["card_token"])

    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_bytes(dumps(spec))
    new.write_bytes(dumps(Workflow("card", card_v2).compile(previous=spec)))
    done = CliRunner().invoke(app, ["diff", str(old), str(new)], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert "✗ breaking: form 'update-card': new required field 'cvc' (str)" in done.output, done.output
    assert "this change requires version 2.0 (major: interface break)" in done.output
