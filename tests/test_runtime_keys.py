"""The runtime's keys equal the state machine's: the Python port against the reference JSONata.

Each workflow below is synthesized; its ``AcquireLock`` holds the key expression (and, with
payload fields, the fingerprint expression) that Step Functions evaluates. npm jsonata 2.0.6
(``tests/jsonata_reference.js``) evaluates those very expressions, and the runtime computes
the same from the workflow's descriptor (``WorkflowDescription.from_definition``): over
generated inputs, both must give the same record id and fingerprint, or both refuse the key.
"""

from __future__ import annotations

import json
import operator
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_stepfunctions as sfn
from conftest import new_app, template_json
from hypothesis import example, given
from hypothesis import strategies as st
from jsonata_reference import Outcome
from test_jsonata_fidelity import KEY_INPUTS, LONG_TEXT, PINNED, TEXT

from idempotent_workflows import IdempotencyKey, IdempotentWorkflow, ProtocolState
from idempotent_workflows.private.jsonata_expressions import _CANONICAL, _NUMBER, _TO_JSON
from idempotent_workflows.runtime import (
    FieldSelection,
    InvalidKeyError,
    WorkflowClient,
    WorkflowDescription,
    canonical_json,
    record_id,
)
from idempotent_workflows.runtime.key_rules import MISSING_FIELDS, _jmespath_handler
from idempotent_workflows.testing import state_machine_definitions
from idempotent_workflows.testing.stepfunctions.execution_names import name_problem

_JSONATA = re.compile(r"\A\{%(.*)%\}\Z", re.DOTALL)

#: The key modes under test, by workflow id; field paths with names and array indexes.
KEYS = {
    "Whole": IdempotencyKey.whole_input(),
    "A": IdempotencyKey.from_fields("a"),
    "BcDef": IdempotencyKey.from_fields("b.c", "d.e.f"),
    "Indexed": IdempotencyKey.from_fields("items.0.sku", "b.1"),
    "Jmespath": IdempotencyKey.from_input_jmespath(),
}
#: Inputs per generated example, evaluated by the reference in one round trip: with the CI
#: profile's 40 examples, 1,000 inputs per test (about 2,800 key and fingerprint cases for
#: fields); the JMESPath test, whose expressions are few, takes 10 per example.
BATCH = 25
#: Payload fields of the workflow keyed on ``a`` (absent ones are left out of the fingerprint).
PAYLOAD_FIELDS = ("b", "x.y")


@dataclass(frozen=True)
class Workflow:
    """One synthesized workflow: its description and the expressions of its AcquireLock."""

    description: WorkflowDescription
    key: str
    payload: str | None

    def bindings(self, document: Any, material: Any = None) -> dict[str, Any]:
        # The JMESPath mode's key material is a variable that its Lambda task assigned.
        return {"states": {"input": document}, "idemKeyMaterial": material}


@pytest.fixture(scope="module")
def workflows() -> dict[str, Workflow]:
    stack = Stack(new_app(), "Keys")
    for name, key in KEYS.items():
        IdempotentWorkflow(
            stack,
            name,
            work=sfn.Pass.jsonata(stack, f"{name}Work"),
            key=key,
            payload_fields=PAYLOAD_FIELDS if name == "A" else (),
        )
    found = {}
    for definition in state_machine_definitions(template_json(stack)).values():
        (description,) = WorkflowDescription.from_definition(definition)
        acquire = definition["States"][ProtocolState.ACQUIRE_LOCK]["Arguments"]
        payload = acquire.get("ExpressionAttributeValues", {}).get(":payload")
        found[description.namespace.split("/")[1]] = Workflow(
            description,
            key=inside(acquire["Key"]["id"]["S"]),
            payload=inside(payload["S"]) if payload else None,
        )
    assert found.keys() == KEYS.keys()
    return found


def inside(expression: str) -> str:
    match = _JSONATA.match(expression)
    assert match, expression
    return match.group(1).strip()


def port(compute: Callable[[], Any]) -> Outcome:
    """What the runtime gives, in the reference's terms: a value, or an error (InvalidKey)."""
    try:
        return Outcome("value", compute())
    except InvalidKeyError as error:
        return Outcome("error", message=str(error))


def same(port_outcome: Outcome, reference: Outcome) -> bool:
    return port_outcome.kind == reference.kind and port_outcome.value == reference.value


def compare(
    jsonata_reference, cases: Sequence[tuple[str, Callable[[], Any], dict[str, Any]]]
) -> Counter[str]:
    """Evaluate each (expression, port computation, bindings) both ways; count the outcomes."""
    replies = jsonata_reference.evaluate_many((expression, b) for expression, _, b in cases)
    outcomes: Counter[str] = Counter()
    for (_, compute, bindings), reference in zip(cases, replies, strict=True):
        mine = port(compute)
        assert same(mine, reference), (
            f"\ninput:     {json.dumps(bindings, ensure_ascii=False)[:600]}"
            f"\nport:      {str(mine)[:300]}\nreference: {str(reference)[:300]}"
        )
        if reference.message.startswith("D3137"):  # $error: the workflow's own message
            assert reference.message == f"D3137: {mine.message}"
        outcomes[mine.kind] += 1
    return outcomes


# -- whole input ---------------------------------------------------------------------------------

AROUND_THE_CHUNK = [
    "a" * 7998,  # 8,000 code points with the quotes: one $hash
    "a" * 7999,  # 8,001: two chunks
    "a" * 8000,
    "a" * 8001,
    "é" * 8001,
    "\U0001f600" * 4998,  # 9,998 UTF-16 code units with the quotes: one $hash
    "\U0001f600" * 4999,  # 10,000 with the quotes: still one $hash
    "\U0001f600" * 5000,  # past $hash's 10,000 code units: InvalidKey
    "\U0001f600" * 8001,  # chunked, but each chunk is 16,000 code units: InvalidKey
    "\u2028" * 10_001,
]
EDGE_VALUES = [
    2**53 - 1,
    2**53,
    2**53 + 1,
    -(2**53) - 2,
    2**64,
    10**21,
    1e21,
    1e21 - 65536,
    123456789012345680000,
    -0.0,
    0.1,
    1e-7,
    1.5e-7,
    0.000001,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    1e300,
    1.0000000000000002e300,
    1e301,
    1000000000000005,
    0.30000000000000004,
    "\ud800",
    "\udc00x",
    "\ud83d\ude00",  # a pair held as two code points: JavaScript sees one character
    "\x7f\x80\x9f\x00\x1f",
    "\u00a0\ufeff",
    {"\U0001f600": 1, "\ufffd": 2, "\uff61": 3, "a": 4, "": 5, "A": 6},
    {"b": {"d": 1, "c": [{"z": None, "y": True}]}, "a": []},
    [[], {}, [[]], [{}], "", 0, False, None],
]


def test_whole_input_keys_agree_with_the_reference(jsonata_reference, workflows):
    whole = workflows["Whole"]
    outcomes: Counter[str] = Counter()

    @given(
        values=st.builds(
            operator.add,
            st.lists(KEY_INPUTS, min_size=BATCH - 2, max_size=BATCH - 2),
            st.lists(LONG_TEXT, min_size=2, max_size=2),
        )
    )
    @example(values=PINNED + EDGE_VALUES + AROUND_THE_CHUNK)
    def agree(values: list[Any]) -> None:
        cases = [
            (whole.key, partial(whole.description.record_id, v), whole.bindings(v)) for v in values
        ]
        outcomes.update(compare(jsonata_reference, cases))

    agree()
    assert outcomes["value"] > 9 * outcomes["error"], outcomes


# -- field selections ----------------------------------------------------------------------------

#: Any JSON value for a field: nested, null, arrays included.
VALUES = TEXT | KEY_INPUTS


def usually(present: st.SearchStrategy[Any], otherwise: st.SearchStrategy[Any]) -> Any:
    """``present`` four times in five, else ``otherwise`` (``one_of`` weighs strategies, not
    their repetitions)."""
    return st.integers(0, 4).flatmap(lambda n: present if n else otherwise)


#: Values at the end of a key path: four times in five neither null nor "".
LEAVES = usually(VALUES.filter(lambda value: value not in (None, "")), VALUES)


def holding(tree: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value that usually holds every path of ``tree`` (nested step names), sometimes not.

    Four times in five each step is present, so that selections give keys, not only
    refusals; otherwise the value is any JSON (a field missing, null, or an array on the way).
    """
    if not tree:
        return LEAVES
    present = st.fixed_dictionaries(
        {step: holding(rest) for step, rest in tree.items()},
        optional={"x": st.fixed_dictionaries({"y": VALUES}) | VALUES, "z": VALUES},
    )
    return usually(present, KEY_INPUTS)


#: Documents for both selections and the payload fields: each path usually present.
DOCUMENTS = holding({"a": {}, "b": {"c": {}}, "d": {"e": {"f": {}}}})
PINNED_DOCUMENTS = [
    {"a": 1, "b": {"c": [1]}, "d": {"e": {"f": 0}}},
    {"a": None, "b": {"c": "x"}},
    {"a": [], "b": {"c": []}, "x": {"y": None}},
    {"a": [None], "b": {"c": {}}, "x": {"y": [1]}},
    {"a": False, "b": {"c": 0}, "d": {"e": {"f": ""}}},
    {"a": {"z": 1}, "b": {"c": "x"}, "d": {"e": {"f": -0.0}}},
    {"a": "x", "b": "y", "d": {"e": None}},
    {"b": {"c": 1}, "d": {"e": {}}},
    {"a": 2**53 + 1, "b": {"c": "\U0001f600"}, "d": {"e": {"f": 1e21}}, "x": "not an object"},
    {"a": "\U0001f600" * 5000, "b": {"c": 1}},
    {"a": 1, "b": [{"c": 1}]},  # a named step on an array: refused
    {"a": 1, "b": {"c": 1}, "x": [{"y": 1}]},  # a validated field too
    {"a": 1, "b": {"c": 1}, "x": "y"},  # a named step on a string: missing
    {"a": "", "b": {"c": 1}, "d": {"e": {"f": ""}}},  # empty key fields
    [{"a": 1}],
    "a",
    None,
]

#: Documents for the indexed paths ``items.0.sku`` and ``b.1``: arrays there, four times in
#: five, so that most give keys; otherwise any JSON (an object, a string, null...).
INDEXED_DOCUMENTS = st.fixed_dictionaries(
    {
        "items": usually(
            st.lists(st.fixed_dictionaries({"sku": LEAVES}), min_size=1, max_size=3),
            st.lists(VALUES, max_size=2)
            | st.dictionaries(st.sampled_from(["0", "sku"]), VALUES, max_size=2)
            | VALUES,
        ),
        "b": usually(st.lists(LEAVES, min_size=2, max_size=3), VALUES),
    },
)
PINNED_INDEXED = [
    {"items": [{"sku": "x"}, {"sku": "y"}], "b": [0, 1]},
    {"items": [{"sku": "x"}], "b": [0]},  # b.1 out of range: missing
    {"items": {"0": {"sku": "x"}}, "b": [0, 1]},  # an index on an object: refused
    {"items": {"sku": "x"}, "b": [0, 1]},
    {"items": "x", "b": [0, 1]},  # an index on a string: refused
    {"items": None, "b": [0, 1]},
    {"b": [0, 1]},  # items missing: missing, not refused
    {"items": [[{"sku": "x"}]], "b": [0, [1]]},  # a named step on an array: refused
    {"items": [{"sku": ""}], "b": [0, ""]},
    {"items": [{"sku": [None]}], "b": [0, [""]]},
    {"items": [{"sku": []}], "b": [0, {}]},
    [{"items": [{"sku": "x"}]}],
]


def test_field_keys_and_fingerprints_agree_with_the_reference(jsonata_reference, workflows):
    outcomes: Counter[str] = Counter()

    @given(
        documents=st.lists(DOCUMENTS, min_size=BATCH, max_size=BATCH),
        indexed=st.lists(INDEXED_DOCUMENTS, min_size=BATCH, max_size=BATCH),
    )
    @example(documents=PINNED_DOCUMENTS, indexed=PINNED_INDEXED)
    def agree(documents: list[Any], indexed: list[Any]) -> None:
        cases = []
        for workflow, inputs in [
            (workflows["A"], documents),
            (workflows["BcDef"], documents),
            (workflows["Indexed"], indexed),
        ]:
            description = workflow.description
            assert isinstance(description.key, FieldSelection)
            for document in inputs:
                bindings = workflow.bindings(document)
                cases.append((workflow.key, partial(description.record_id, document), bindings))
                if workflow.payload:
                    fingerprint = partial(description.payload_fingerprint, document)
                    cases.append((workflow.payload, fingerprint, bindings))
        outcomes.update(compare(jsonata_reference, cases))

    agree()
    # Mostly keys, not only refusals.
    assert outcomes["value"] > outcomes["error"], outcomes


# -- the client's execution names ----------------------------------------------------------------


def test_execution_names_carry_the_key_the_workflow_computes(jsonata_reference, workflows):
    """``WorkflowClient.execution_name`` is ``k<hex>-<attempt>``: the hex is the record id's
    as the reference computes it, and the name is one Step Functions accepts (80 characters
    at most, of its alphabet), for whole inputs and field selections alike."""
    outcomes: Counter[str] = Counter()

    def named(client: WorkflowClient, document: Any) -> str:
        name = client.execution_name(document, attempt=12)
        assert name_problem(name) is None and name.startswith("k") and name.endswith("-12")
        return f"{client.description.namespace}#{name[1:-3]}"

    @given(
        values=st.lists(KEY_INPUTS, min_size=BATCH, max_size=BATCH),
        documents=st.lists(DOCUMENTS, min_size=BATCH, max_size=BATCH),
    )
    @example(values=PINNED + EDGE_VALUES, documents=PINNED_DOCUMENTS)
    def agree(values: list[Any], documents: list[Any]) -> None:
        cases = []
        for workflow, inputs in ((workflows["Whole"], values), (workflows["A"], documents)):
            client = WorkflowClient("unused", client=object(), description=workflow.description)
            for document in inputs:
                name = partial(named, client, document)
                cases.append((workflow.key, name, workflow.bindings(document)))
        outcomes.update(compare(jsonata_reference, cases))

    agree()
    assert outcomes["value"] > outcomes["error"], outcomes


# -- the input-carried JMESPath ------------------------------------------------------------------

EXPRESSIONS = st.sampled_from(
    ["a", "b.c", "[a, b]", "a[0]", "{k: a}", "length(a)", "missing", "b.*", "[unclosed", "", " "]
)
JMESPATH_DOCUMENTS = st.fixed_dictionaries(
    {
        "idempotencyKeyJmespath": EXPRESSIONS,
        "a": KEY_INPUTS,
        "b": st.fixed_dictionaries({"c": KEY_INPUTS}) | KEY_INPUTS,
    }
)


def test_jmespath_keys_agree_with_the_reference(jsonata_reference, workflows):
    """The state machine's Lambda task evaluates the expression; the protocol hashes what it
    returns (a failure of the task is InvalidKey): the port must do both alike."""
    workflow = workflows["Jmespath"]
    handler = _jmespath_handler()
    outcomes: Counter[str] = Counter()

    @given(documents=st.lists(JMESPATH_DOCUMENTS, min_size=10, max_size=10))
    @example(
        documents=[
            {"a": 1},
            {"idempotencyKeyJmespath": None, "a": 1},
            {"idempotencyKeyJmespath": "a", "a": None},
            [1],
            "a",
            {"idempotencyKeyJmespath": "a", "a": 2**53 + 1},
            {"idempotencyKeyJmespath": "[a, b]"},
            {"idempotencyKeyJmespath": "a", "a": {"y": [], "x": "\U0001f600"}},
            {"idempotencyKeyJmespath": "a", "a": "\U0001f600" * 5000},
            {"idempotencyKeyJmespath": "a", "a": False},
        ]
    )
    def agree(documents: list[Any]) -> None:
        cases = []
        for document in documents:
            try:
                material = handler(document, None)  # what the Lambda task returns
            except Exception:
                with pytest.raises(InvalidKeyError, match="is not valid JMESPath"):
                    workflow.description.record_id(document)
                outcomes["task failed"] += 1
                continue
            bindings = workflow.bindings(document, material)
            cases.append(
                (workflow.key, partial(workflow.description.record_id, document), bindings)
            )
        outcomes.update(compare(jsonata_reference, cases))

    agree()
    assert 3 * outcomes["value"] > outcomes.total() and outcomes["task failed"] > 0, outcomes


# -- pinned --------------------------------------------------------------------------------------

#: The canonical JSON text the key expression hashes (the library's own JSONata).
CANONICAL = f"({_TO_JSON} {_NUMBER} {_CANONICAL} $canonical($v, 0))"


def test_the_canonical_text_is_the_references(jsonata_reference):
    """The text before hashing, side by side: a disagreement shows where the texts part."""
    values = [*EDGE_VALUES, *PINNED]
    replies = jsonata_reference.evaluate_many((CANONICAL, {"v": value}) for value in values)
    for value, reference in zip(values, replies, strict=True):
        assert reference.kind == "value", (value, str(reference))
        assert canonical_json(value) == reference.value, value


def test_a_field_path_indexes_arrays_and_never_maps_over_them():
    """The rule of issue 19: a number indexes an array, a name reads an object member; a name
    on an array, or a number on anything but an array, refuses the input."""
    rule = FieldSelection(("order.items.0.sku", "order.id"))
    document = {"order": {"id": 7, "items": [{"sku": "x"}, {"sku": "y"}]}}
    assert rule.material(document) == {"order.items.0.sku": "x", "order.id": 7}
    for refused, message in [
        (
            {"order": [{"id": 7, "items": [{"sku": "x"}]}]},
            "order.items.0.sku: the input has an array where the field items is read",
        ),
        (
            {"order": {"id": 7, "items": {"0": {"sku": "x"}}}},
            "order.items.0.sku: step 0 indexes an array, but the input has none there",
        ),
        (
            {"order": {"id": 7, "items": "x"}},
            "order.items.0.sku: step 0 indexes an array, but the input has none there",
        ),
        ({"order": {"id": 7, "items": []}}, f"{MISSING_FIELDS}order.items.0.sku"),
        (
            {"order": {"id": "", "items": [{"sku": None}]}},
            f"{MISSING_FIELDS}order.items.0.sku, order.id",
        ),
        ({"order": "x"}, f"{MISSING_FIELDS}order.items.0.sku, order.id"),
        ({}, f"{MISSING_FIELDS}order.items.0.sku, order.id"),
    ]:
        with pytest.raises(InvalidKeyError) as raised:
            rule.material(refused)
        assert str(raised.value) == message
        assert raised.value.error == "Idempotency.InvalidKey"
    assert FieldSelection(("tags",)).material({"tags": []}) == {"tags": []}  # present


def test_the_record_id_is_the_namespace_and_the_fingerprint():
    assert record_id("Ns", {"b": 1, "a": 2}) == record_id("Ns", {"a": 2, "b": 1})
    assert record_id("Ns", {"a": 1}).startswith("Ns#")
    assert len(record_id("Ns", "x").split("#")[1]) == 64
    for not_json, error in [
        (float("nan"), ValueError),
        (10**400, ValueError),
        ({1: 2}, TypeError),
        (b"x", TypeError),
    ]:
        with pytest.raises(error):
            record_id("Ns", not_json)
