"""Property-based tests of bad and unusual input, executed on the local engine."""

from __future__ import annotations

import itertools

import pytest
from aws_cdk import Stack
from aws_cdk import aws_stepfunctions as sfn
from botocore.exceptions import ClientError
from conftest import new_app
from hypothesis import example, given
from hypothesis import strategies as st
from jsonata_reference import same_json

from idempotent_workflows import IdempotentWorkflow, RecordStatus
from idempotent_workflows import ProtocolState as S
from idempotent_workflows.examples import TransactionStack
from idempotent_workflows.testing import LocalEngine

SAFE_INTEGERS = st.integers(min_value=-(2**53), max_value=2**53)  # exact in every JSON parser
SCALARS = (
    st.none()
    | st.booleans()
    | SAFE_INTEGERS
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_case = itertools.count()


def reordered(value):
    """The same JSON value with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(item) for item in value]
    return value


@pytest.fixture(scope="module")
def keyed():
    """A workflow keyed on the whole input whose work is one Pass state."""
    stack = Stack(new_app(), "KeyProperties")
    IdempotentWorkflow(stack, "Workflow", work=sfn.Pass.jsonata(stack, "Work", outputs={"ran": 1}))
    with LocalEngine() as engine:
        yield engine.deploy(stack)


def ran_work(execution) -> bool:
    assert execution.status == "SUCCEEDED", (execution.error, execution.cause)
    return S.RUN_WORK in execution.states_entered


@given(value=JSON_VALUES)
def test_equal_values_in_any_key_order_share_one_key(keyed, value):
    case = next(_case)
    assert ran_work(keyed.run({"case": case, "value": value}))
    assert not ran_work(keyed.run({"value": reordered(value), "case": case}))


# Found by hypothesis on a fresh clone: the engine dropped the null, so both shared a key.
@example(first=[], second=[None])
@example(first={"a": [None]}, second={"a": []})
@given(first=JSON_VALUES, second=JSON_VALUES)
def test_different_values_get_different_keys(keyed, first, second):
    case = next(_case)
    assert ran_work(keyed.run({"case": case, "value": first}))
    duplicate = not ran_work(keyed.run({"case": case, "value": second}))
    assert duplicate == same_json(first, second)


@pytest.mark.parametrize(
    "first,second,same",
    [
        (1, 1.0, True),
        (0, -0.0, True),
        (1, 1.0000000000000002, False),
        (0.1 + 0.2, 0.3, False),
        (True, 1, False),
        ({}, [], False),
        ([], None, False),
        ([], [None], False),
        ([None], [None, None], False),
        ("é", "e\u0301", False),
        (
            {"a": {"b": {"c": {"d": {"e": [[[[1]]]]}}}}},
            {"a": {"b": {"c": {"d": {"e": [[[[1]]]]}}}}},
            True,
        ),
    ],
)
def test_chosen_edge_values(keyed, first, second, same):
    case = next(_case)
    assert ran_work(keyed.run({"case": case, "value": first}))
    assert (not ran_work(keyed.run({"case": case, "value": second}))) is same


def test_key_material_longer_than_the_hash_function_takes(keyed):
    """`$hash` takes 10,000 characters at most; longer material is hashed in chunks."""
    text = "".join(chr(0x41 + i % 26) for i in range(30_000))
    assert ran_work(keyed.run({"long": text}))
    assert not ran_work(keyed.run({"long": text}))
    changed = text[:15_000] + "!" + text[15_001:]
    assert ran_work(keyed.run({"long": changed}))


def test_input_near_the_payload_limit_runs_or_fails_by_name(keyed):
    near = keyed.run({"blob": "x" * (250 * 1024)})
    assert near.status == "SUCCEEDED" and ran_work(near)
    records = len(keyed.items())
    with pytest.raises(ClientError, match="Member must have length less than or equal to 262144"):
        keyed.start({"blob": "x" * (257 * 1024)})
    assert len(keyed.items()) == records
    assert all(item["executionstatus"] != RecordStatus.IN_PROGRESS for item in keyed.items())


# -- the router --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def router():
    stack = TransactionStack(new_app(), "RouterProperties")
    with LocalEngine() as engine:
        yield engine.deploy(stack)


TRANSACTION_TYPES = (
    JSON_VALUES
    | st.sampled_from(["PURCHASE", "REFUND", "purchase", "Refund", " PURCHASE", ""])
    | st.text(min_size=1000, max_size=5000)
)
MISSING = object()


@given(transaction_type=TRANSACTION_TYPES | st.just(MISSING))
def test_any_transaction_type_is_routed_or_named(router, transaction_type):
    event = {"TransactionId": f"t-{next(_case)}", "Amount": 5}
    if transaction_type is not MISSING:
        event["TransactionType"] = transaction_type
    execution = router.run(event)
    if transaction_type in ("PURCHASE", "REFUND"):
        assert execution.status == "SUCCEEDED"
        assert execution.output["TransactionType"] == transaction_type
    else:
        assert execution.status == "FAILED"
        assert execution.error == "Transaction.UnknownType"
        assert execution.cause.endswith("accepted types: PURCHASE, REFUND.")
        assert len(execution.cause) < 300
    assert all(item["executionstatus"] != RecordStatus.IN_PROGRESS for item in router.items())
