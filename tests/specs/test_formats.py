"""Older spec formats: a ``wfc/1`` spec keeps its meaning, its bytes and its
hash; a newer format is refused.

``data/wfc1-payment.json`` was written by wfc before ``wfc/2`` (it is golden:
never regenerate it). Its ``send-receipt`` task has ``retries: 0``, which in
``wfc/1`` meant "unset, use the @task default"; its compensation has
``retries: 0``, which has always meant "no retries".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from wfc.compiler import compile_workflow, diff_specs
from wfc.dsl import Expression, Workflow, WorkflowThread
from wfc.specs import SCHEMA_ID, SpecError, TaskNode, WorkflowSpec, body_hash, dumps, loads, loads_deployed, validate

OLD = (Path(__file__).parent / "data" / "wfc1-payment.json").read_bytes()


def payment(wf: WorkflowThread) -> Expression:
    """The workflow ``data/wfc1-payment.json`` was compiled from."""
    order_id = wf.declare_str("order-id").required().searchable()
    amount = wf.declare_float("amount").required()
    charge = wf.execute("charge-card", order_id, amount, retries=3, timeout=30)
    charge.compensate_with("refund-card", charge["payment_id"], retries=0)
    wf.execute("send-receipt", order_id)
    return charge["payment_id"]


def task(spec: WorkflowSpec, node_id: str) -> TaskNode:
    node = spec.threads["main"].nodes[node_id]
    assert isinstance(node, TaskNode)
    return node


@pytest.mark.parametrize("load", [loads, loads_deployed], ids=["loads", "loads_deployed"])
def test_a_wfc1_zero_is_read_as_unset(load: Callable[[bytes], WorkflowSpec]) -> None:
    spec = load(OLD)
    assert spec.schema == "wfc/1"
    assert task(spec, "send-receipt").retries is None
    assert task(spec, "charge-card").retries == 3
    compensation = task(spec, "charge-card").compensation
    assert compensation is not None and compensation.retries == 0


def test_a_wfc1_spec_is_written_back_byte_for_byte() -> None:
    spec = loads(OLD)
    assert dumps(spec) == OLD
    assert body_hash(spec) == spec.hash == json.loads(OLD)["hash"]


def test_the_compiler_writes_the_new_format_where_zero_means_none() -> None:
    spec = compile_workflow(Workflow("payment", payment))
    assert spec.schema == SCHEMA_ID == "wfc/2"
    assert "retries" not in json.loads(dumps(spec))["threads"]["main"]["nodes"]["send-receipt"]
    assert task(loads(dumps(spec)), "send-receipt").retries is None


def test_recompiling_against_a_wfc1_spec_bumps_the_revision_for_the_format_only() -> None:
    previous = loads(OLD)
    spec = compile_workflow(Workflow("payment", payment), previous=previous)
    assert str(spec.version) == "1.1"
    change = diff_specs(previous, spec)
    assert (change.nodes, change.interface, change.other) == ((), (), ("schema wfc/1 → wfc/2",))


def test_no_retries_cannot_be_written_in_wfc1() -> None:
    spec = loads(OLD)
    thread = spec.threads["main"]
    nodes = {**thread.nodes, "send-receipt": msgspec.structs.replace(task(spec, "send-receipt"), retries=0)}
    bad = msgspec.structs.replace(spec, threads={"main": msgspec.structs.replace(thread, nodes=nodes)})
    with pytest.raises(SpecError) as caught:
        validate(bad)
    assert caught.value.path == "$.threads.main.nodes.send-receipt.retries"
    assert "cannot be written in format 'wfc/1'" in caught.value.reason


def test_a_deployed_spec_in_a_newer_format_is_refused() -> None:
    newer = json.loads(OLD)
    newer["schema"] = "wfc/3"
    with pytest.raises(SpecError) as caught:
        loads_deployed(json.dumps(newer))
    assert caught.value.path == "$.schema"
    assert "written by a newer wfc: upgrade wfc" in caught.value.reason
