"""The runtime room: what runtime code learns from a workflow, and that it loads without CDK.

``WorkflowDescription`` reads each protocol's descriptor from a definition (synthesized, or
deployed and described through the Step Functions API), and computes the record ids and the
payload fingerprints that the workflow itself writes: checked against the records that real
executions leave in the table on the local engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_stepfunctions as sfn
from conftest import EXAMPLE_STACKS, new_app, template_json

from idempotent_workflows import (
    IdempotencyKey,
    IdempotencyProtocol,
    IdempotencyTable,
    IdempotentWorkflow,
    ProtocolState,
)
from idempotent_workflows.runtime import (
    FieldSelection,
    InputJmespath,
    InvalidKeyError,
    WorkflowDescription,
)
from idempotent_workflows.runtime.description import descriptor_comment
from idempotent_workflows.testing import state_machine_definitions


def protocols(stack: Stack) -> list[IdempotencyProtocol]:
    return [c for c in stack.node.find_all() if isinstance(c, IdempotencyProtocol)]


@pytest.mark.parametrize("name", EXAMPLE_STACKS)
def test_each_example_stack_describes_its_protocols(example_stacks, name):
    """The descriptor says what the construct was given, and the table is the protocol's."""
    stack = example_stacks[name]
    described = [
        description
        for definition in state_machine_definitions(template_json(stack)).values()
        for description in WorkflowDescription.from_definition(definition)
    ]
    built = protocols(stack)
    assert len(described) == len(built) >= 1
    by_namespace = {description.namespace: description for description in described}
    for protocol in built:
        description = by_namespace[protocol.key_namespace]
        assert description.key == protocol.key.rule
        assert description.payload_fields == protocol.payload_fields
        assert description.workflow_type == protocol.workflow_type.value
        assert description.record_ttl_seconds == protocol.record_ttl_seconds
        assert description.lease_seconds == protocol.lease_seconds
        table = stack.resolve(protocol.table.table_name)["Ref"]
        assert description.table_name == f"<{table}>"
        assert ProtocolState.ACQUIRE_LOCK in description.state_names


def test_an_embedded_and_prefixed_protocol_is_described_with_its_state_names():
    stack = Stack(new_app(), "Embedded")
    table = IdempotencyTable(stack, "Records")
    line = IdempotencyProtocol(
        stack,
        "Line",
        work=sfn.Pass.jsonata(stack, "Reserve"),
        table=table,
        key=IdempotencyKey.from_fields("line"),
    )
    line.prefix_states("Line")
    order = IdempotencyProtocol(
        stack,
        "Order",
        work=line,
        table=table,
        key=IdempotencyKey.from_input_jmespath(),
        payload_fields=["total"],
        record_ttl=Duration.hours(2),
    )
    sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(order),
        query_language=sfn.QueryLanguage.JSONATA,
    )
    (definition,) = state_machine_definitions(template_json(stack)).values()
    outer, inner = WorkflowDescription.from_definition(definition)
    assert (outer.namespace, outer.key, outer.payload_fields) == (
        "Embedded/Order",
        InputJmespath(),
        ("total",),
    )
    assert (outer.record_ttl_seconds, outer.lease_seconds) == (7200, 900)
    assert outer.state_names[ProtocolState.COMPUTE_KEY] == ProtocolState.COMPUTE_KEY
    assert ProtocolState.PAYLOAD_MISMATCH in outer.state_names
    assert (inner.namespace, inner.key) == ("Embedded/Line", FieldSelection(("line",)))
    assert inner.state_names[ProtocolState.ACQUIRE_LOCK] == "LineAcquireLock"
    assert inner.state_names[ProtocolState.RUN_WORK] == "LineRunWork"
    assert ProtocolState.COMPUTE_KEY not in inner.state_names
    assert ProtocolState.PAYLOAD_MISMATCH not in inner.state_names
    assert inner.table_name == outer.table_name


def definition_with(comment: str, state: str = "AcquireLock") -> dict[str, Any]:
    acquire = {"Type": "Task", "Comment": comment, "Arguments": {"TableName": "T"}, "End": True}
    return {"StartAt": state, "States": {state: acquire}}


#: A descriptor as the protocol writes it.
DESCRIPTOR = descriptor_comment(
    namespace="Ns",
    key=FieldSelection(("a.b", "c")),
    payload_fields=["d"],
    workflow_type="EXPRESS",
    record_ttl_seconds=60,
    lease_seconds=30,
)


def changed(**members: Any) -> str:
    """The descriptor with members changed (None: removed)."""
    descriptor = {**json.loads(DESCRIPTOR), **members}
    return json.dumps({name: value for name, value in descriptor.items() if value is not None})


def test_a_descriptor_round_trips_and_other_comments_are_ignored():
    assert json.loads(DESCRIPTOR)["idempotent-workflows"] == 1
    (description,) = WorkflowDescription.from_definition(definition_with(DESCRIPTOR))
    assert description == WorkflowDescription(
        namespace="Ns",
        key=FieldSelection(("a.b", "c")),
        payload_fields=("d",),
        workflow_type="EXPRESS",
        record_ttl_seconds=60,
        lease_seconds=30,
        table_name="T",
        state_names={"AcquireLock": "AcquireLock"},
    )
    # A member added later within version 1 is ignored.
    newer = changed(pollSeconds=10)
    assert WorkflowDescription.from_definition(definition_with(newer)) == (description,)
    for other in ["Takes the lock", "{not json", '{"a": 1}', "[1]"]:
        assert WorkflowDescription.from_definition(definition_with(other)) == ()


@pytest.mark.parametrize(
    ("comment", "state", "message"),
    [
        (changed(**{"idempotent-workflows": 2}), "AcquireLock", "version 2; this library reads"),
        (changed(key={"jmespath": "a"}), "AcquireLock", "Unknown key rule"),
        (changed(type="FAST"), "AcquireLock", "malformed"),
        (changed(namespace=None), "AcquireLock", "malformed"),
        (DESCRIPTOR, "ComputeKey", "only the protocol's AcquireLock state"),
    ],
)
def test_a_descriptor_it_cannot_read_is_refused_by_name(comment, state, message):
    with pytest.raises(ValueError, match=message):
        WorkflowDescription.from_definition(definition_with(comment, state))


# -- against the records real executions write ---------------------------------------------------


@pytest.fixture(scope="module")
def keyed_stack() -> Stack:
    stack = Stack(new_app(), "Keyed")
    IdempotentWorkflow(
        stack,
        "Orders",
        work=sfn.Pass.jsonata(stack, "Ship"),
        key=IdempotencyKey.from_fields("order.id", "customer"),
        payload_fields=["amount", "lines"],
    )
    IdempotentWorkflow(
        stack,
        "Picked",
        work=sfn.Pass.jsonata(stack, "Pick"),
        key=IdempotencyKey.from_input_jmespath(),
        workflow_type=sfn.StateMachineType.EXPRESS,
    )
    return stack


ORDERS = [
    {"order": {"id": 1}, "customer": "c-1", "amount": 9.5, "lines": [{"sku": "é", "n": 2}]},
    {"order": {"id": "\U0001f600"}, "customer": {"b": 1, "a": [None]}, "amount": 2**53 + 1},
    {"order": {"id": 0.1}, "customer": False, "lines": "not validated when absent"},
]
#: The first order again, keys in another order, a field outside the key and the payload.
SAME_ORDER = {
    "customer": "c-1",
    "lines": [{"n": 2, "sku": "é"}],
    "amount": 9.5,
    "order": {"id": 1, "at": 1},
}
#: The first order's key with another payload: the workflow refuses it.
OTHER_PAYLOAD = {"order": {"id": 1}, "customer": "c-1", "amount": 9.5}
PICKED = [
    {"idempotencyKeyJmespath": "[customer, order.id]", "customer": "c", "order": {"id": 7}},
    {"idempotencyKeyJmespath": "order", "order": {"b": 1.5, "a": "\u2028"}},
]


def test_the_record_ids_and_fingerprints_are_those_the_workflow_writes(keyed_stack, local_engine):
    deployed = local_engine.deploy(keyed_stack)
    for prefix, inputs in [("Orders", ORDERS), ("Picked", PICKED)]:
        (description,) = WorkflowDescription.describe(
            deployed.state_machine(prefix), local_engine.sfn
        )
        assert description.table_name == deployed.table(prefix)
        for execution_input in inputs:
            execution = deployed.run(execution_input, prefix=prefix)
            assert execution.status == "SUCCEEDED", execution.error
            (record,) = [r for r in deployed.items(prefix) if r["execution"] == execution.arn]
            assert record["id"] == description.record_id(execution_input)
            assert record.get("payloadhash") == description.payload_fingerprint(execution_input)
        assert len(deployed.items(prefix)) == len(inputs)

    (orders,) = WorkflowDescription.describe(deployed.state_machine("Orders"), local_engine.sfn)
    assert orders.record_id(SAME_ORDER) == orders.record_id(ORDERS[0])
    assert orders.payload_fingerprint(SAME_ORDER) == orders.payload_fingerprint(ORDERS[0])
    assert deployed.run(SAME_ORDER, prefix="Orders").states_entered[-1] == (
        ProtocolState.RETURN_STORED_RESULT
    )
    assert orders.payload_fingerprint(OTHER_PAYLOAD) != orders.payload_fingerprint(ORDERS[0])
    assert deployed.run(OTHER_PAYLOAD, prefix="Orders").error == "Idempotency.PayloadMismatch"


@pytest.mark.parametrize(
    ("prefix", "refused", "message"),
    [
        ("Orders", {"order": {"id": None}, "customer": "c"}, ": order.id$"),
        ("Orders", {"order": {"id": ""}, "customer": "c"}, ": order.id$"),
        ("Orders", {"order": [{"id": 1}], "customer": "c"}, "^order.id: the input has an array"),
        ("Orders", {"amount": 1}, ": order.id, customer$"),
        ("Picked", {"idempotencyKeyJmespath": "missing"}, "selected nothing"),
        ("Picked", {"idempotencyKeyJmespath": "[unclosed"}, "is not valid JMESPath"),
        ("Picked", {"idempotencyKeyJmespath": "a", "a": "\U0001f600" * 5000}, "too long"),
    ],
)
def test_an_input_the_workflow_refuses_is_refused_before_it_is_sent(
    keyed_stack, local_engine, prefix, refused, message
):
    deployed = local_engine.deploy(keyed_stack)
    (description,) = WorkflowDescription.describe(deployed.state_machine(prefix), local_engine.sfn)
    with pytest.raises(InvalidKeyError, match=message) as raised:
        description.record_id(refused)
    assert raised.value.error == "Idempotency.InvalidKey"
    execution = deployed.run(refused, prefix=prefix)
    assert execution.error == raised.value.error
    if prefix == "Orders":  # the workflow's own message, word for word
        assert str(raised.value) in execution.cause


# -- the room's imports --------------------------------------------------------------------------

PROBE = textwrap.dedent(
    """
    import importlib.abc, json, sys

    class NoCdk(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {"aws_cdk", "constructs", "jsii"}:
                raise ImportError(f"the runtime imported {name}")
            return None

    sys.meta_path.insert(0, NoCdk())
    before = set(sys.modules)
    from idempotent_workflows.runtime import WorkflowDescription

    for description in WorkflowDescription.from_definition(json.load(sys.stdin)):
        keyed = {"idempotencyKeyJmespath": "a", "a": 1, "order": {"id": 1}, "customer": "c"}
        description.record_id(keyed)
    print(json.dumps(sorted(set(sys.modules) - before)))
    """
)


def test_the_runtime_imports_the_standard_library_and_jmespath_only(keyed_stack):
    """In a process where importing aws-cdk-lib, constructs or jsii fails, the runtime loads
    and computes keys of every mode; what it imported beyond the standard library is listed."""
    for definition in state_machine_definitions(template_json(keyed_stack)).values():
        (description,) = WorkflowDescription.from_definition(definition)
        probe = subprocess.run(
            [sys.executable, "-c", PROBE],
            input=json.dumps(definition),
            capture_output=True,
            text=True,
        )
        assert probe.returncode == 0, probe.stderr
        imported = json.loads(probe.stdout)
        beyond = {m for m in imported if m.partition(".")[0] not in sys.stdlib_module_names}
        library = {
            "idempotent_workflows",
            "idempotent_workflows.errors",
            "idempotent_workflows.states",
            "idempotent_workflows.runtime",
            "idempotent_workflows.runtime.client",
            "idempotent_workflows.runtime.description",
            "idempotent_workflows.runtime.hashing",
            "idempotent_workflows.runtime.javascript_json",
            "idempotent_workflows.runtime.key_rules",
            "idempotent_workflows.runtime.operator",
            "idempotent_workflows.runtime.records",
        }
        if isinstance(description.key, InputJmespath):  # the key function's handler loads it
            assert "jmespath" in beyond
        else:
            assert "jmespath" not in beyond
        assert {m for m in beyond if m.partition(".")[0] != "jmespath"} == library
