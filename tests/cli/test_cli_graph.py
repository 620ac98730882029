"""wfc graph: mermaid, dot and tree output of a spec."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from wfc.specs import WorkflowSpec

Invoke = Callable[..., Result]
WriteSpec = Callable[[WorkflowSpec, str], Path]


@pytest.fixture
def spec_file(spec: WorkflowSpec, write_spec: WriteSpec) -> Path:
    return write_spec(spec, "checkout.json")


def test_mermaid_is_the_default(invoke: Invoke, spec_file: Path) -> None:
    result = invoke("graph", "checkout.json")
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith("flowchart TD\n")
    assert text.count("subgraph ") == 3
    assert text.index('subgraph t_main ["thread main"]') < text.index("subgraph t_audit")
    assert 'main__charge_card["charge-card<br/>task charge-card (retries 3)"]' in text
    assert 'main__spawn_audit[["spawn-audit<br/>spawn_thread audit"]]' in text
    assert 'main__check_amount -->|"amount #gt; 100"| main__fraud_check' in text
    assert 'main__check_amount -->|"else"| main__join' in text
    assert 'main__charge_card -->|"total += @charge-card.amount"| main__check_amount' in text
    assert 'main__poll -->|"attempts += 1"| main__poll_loop' in text
    assert 'main__charge_card -.->|"on error"| t_refund' in text
    assert 'main__spawn_audit -.->|"spawns"| t_audit' in text


def test_mermaid_escapes_labels(invoke: Invoke, spec_file: Path) -> None:
    text = invoke("graph", "checkout.json", "--format", "mermaid").stdout
    assert '["fraud-check<br/>task fraud #quot;check#quot; [v2] (retries 3)"]' in text
    assert '|"note == #quot;say \\#quot;hi\\#quot; #lt;b#gt; [x] #35;1 #124; y#quot;"|' in text
    # Every quoted string holds no raw quote, and ids are plain words.
    for line in text.splitlines()[1:]:
        for quoted in re.findall(r'"(.*?)"', line):
            assert not set(quoted.replace("<br/>", "")) & set('"<>|`')
        assert re.match(r"^\s*(subgraph \w+ |end$|\w+[\[\({ -])", line), line


def test_dot(invoke: Invoke, spec_file: Path) -> None:
    result = invoke("graph", "checkout.json", "-f", "dot")
    assert result.exit_code == 0
    text = result.stdout
    assert text.startswith('digraph "checkout" {\n') and text.endswith("}\n")
    assert 'subgraph "cluster_main" {' in text
    assert '"main/charge-card" [label="charge-card\\ntask charge-card (retries 3)", shape=box];' in text
    assert '"main/check-amount" -> "main/fraud-check" [label="amount > 100"];' in text
    assert '"main/poll" -> "main/poll-loop" [label="attempts += 1"];' in text
    assert '[label="fraud-check\\ntask fraud \\"check\\" [v2] (retries 3)", shape=box]' in text
    assert '[label="note == \\"say \\\\\\"hi\\\\\\" <b> [x] #1 | y\\""]' in text
    assert '"main/charge-card" -> "refund/entrypoint" [label="on error", style=dashed, lhead="cluster_refund"];' in text


def test_tree(invoke: Invoke, spec_file: Path) -> None:
    result = invoke("graph", "checkout.json", "--format", "tree")
    assert result.exit_code == 0
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == "checkout 1.2"
    assert lines[1] == "└── thread main"
    text = "\n".join(lines)
    assert "charge-card  task charge-card (retries 3)" in text
    assert "on error → thread refund" in text
    assert "total += @charge-card.amount" in text
    assert "if amount > 100" in text
    assert "↻ poll-loop" in text  # the loop's back-edge, not recursed into
    assert "spawns thread audit" in text
    assert "else → spawn-audit" in text
    # The join of the branch is drawn once, at the level of the branch node.
    assert sum(1 for line in lines if line.endswith("── join  nop")) == 1
    assert lines[-1].endswith("└── exit")


def test_thread_option(invoke: Invoke, spec_file: Path) -> None:
    text = invoke("graph", "checkout.json", "--thread", "refund").stdout
    assert text.count("subgraph ") == 1
    assert "refund__refund_card" in text
    assert "main__" not in text
    tree = invoke("graph", "checkout.json", "-f", "tree", "-t", "audit").stdout
    assert tree.splitlines()[1].endswith("thread audit")
    assert "charge-card" not in tree


def test_unknown_thread(invoke: Invoke, spec_file: Path) -> None:
    result = invoke("graph", "checkout.json", "--thread", "nope")
    assert result.exit_code == 1
    assert "checkout.json has no thread 'nope'; its threads are: audit, main, refund" in result.stderr


def test_missing_file(invoke: Invoke) -> None:
    result = invoke("graph", "nope.json")
    assert result.exit_code == 1
    assert "error: spec file nope.json: no such file or directory" in result.stderr
    assert "Traceback" not in result.output


def test_invalid_json(invoke: Invoke) -> None:
    Path("bad.json").write_text("[1, 2")
    result = invoke("graph", "bad.json")
    assert result.exit_code == 1
    assert "bad.json: invalid workflow spec at $: not valid JSON" in result.stderr
