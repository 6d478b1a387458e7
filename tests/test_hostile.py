"""Hostile and careless input, from outside: the served API over real HTTP, the workflows on
the engine. For each case: the status or error name, how often the work ran, what the table
holds. Nothing lost, nothing run twice, no 5xx for a client's mistake (issue 19)."""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.parse
from dataclasses import dataclass

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_stepfunctions as sfn
from conftest import echo_api_stack, new_app, set_record
from hypothesis import example, given
from hypothesis import strategies as st

from idempotent_workflows import (
    IdempotencyKey,
    IdempotentApi,
    IdempotentWorkflow,
    RecordStatus,
)
from idempotent_workflows import ProtocolState as S
from idempotent_workflows.private.mapping_templates import KEY_RULE, request_template
from idempotent_workflows.private.record import REPLAYABLE_BYTES
from idempotent_workflows.testing.apigateway.server import signed_headers
from idempotent_workflows.testing.apigateway.vtl import TemplateInput, render

PAYMENT = {"amount": 25, "currency": "EUR"}
ROLE = "arn:aws:sts::123456789012:assumed-role/checkout"
#: Access keys the local API maps to principals: two sessions of one role, and another user.
CALLERS = {"SESSION1": f"{ROLE}/botocore-session-1", "SESSION2": f"{ROLE}/botocore-session-2"}


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def body(self):
        return json.loads(self.text)

    @property
    def error(self):
        return self.body.get("error")


def send(
    url: str,
    body: bytes | str,
    headers: list[tuple[str, str]],
    *,
    access_key: str | None = "ALICE",
    query: str = "",
) -> Answer:
    """POST raw bytes with the header fields as given (repeated names kept), SigV4-signed."""
    data = body.encode() if isinstance(body, str) else body
    fields = [("Content-Type", "application/json"), *headers]
    if access_key is not None:
        signed = signed_headers(url, data, {"Content-Type": "application/json"}, access_key)
        fields = [(n, v) for n, v in signed.items() if n.lower() != "content-type"] + fields
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    connection.putrequest("POST", parts.path + query)
    for name, value in [*fields, ("Content-Length", str(len(data)))]:
        connection.putheader(name, value)
    connection.endheaders(data)
    response = connection.getresponse()
    answer = Answer(response.status, dict(response.getheaders()), response.read().decode())
    connection.close()
    return answer


def key(value: str) -> list[tuple[str, str]]:
    return [("Idempotency-Key", value)]


@pytest.fixture
def payments(example_stacks, local_engine):
    deployed = local_engine.deploy(example_stacks["PaymentsApi"])
    with deployed.serve_api(callers=CALLERS) as api:
        deployed.url = f"{api.url}/payments"
        yield deployed


def charges(deployed) -> int:
    return deployed.function("Charge").invocations


def pay(deployed, headers, body=PAYMENT, **kwargs) -> Answer:
    return send(deployed.url, json.dumps(body), headers, **kwargs)


# -- the key: from the header only, one rule -------------------------------------------------

REFUSED_KEYS = {
    "empty Structured Fields string": '""',
    "256 characters": "k" * 256,
    "256 characters, quoted": '"' + "k" * 256 + '"',
    "non-ASCII": "clé-1",
    "a tab inside": "a\tb",
    "a space inside": "a b",
    "a control character": "a\x01b",
    "DEL": "a\x7fb",
    "a backslash in a bare token": 'a\\"b',
    "a quote in a bare token": 'a"b',
    "a comma (repeated fields joined)": "a,b",
    "an escape other than quote and backslash": '"a\\nb"',
    "an unterminated string": '"abc',
    "Structured Fields parameters": '"abc";a=1',
    "10,000 characters": "k" * 10_000,
}


@pytest.mark.parametrize("value", REFUSED_KEYS.values(), ids=REFUSED_KEYS.keys())
def test_a_key_that_breaks_the_rule_is_refused_with_400_naming_it(payments, value):
    answer = pay(payments, key(value))
    assert (answer.status, answer.error) == (400, "Idempotency.InvalidKey")
    assert answer.body["cause"] == KEY_RULE  # the rule, never the key
    assert charges(payments) == 0
    assert payments.items() == []  # the refused execution touched nothing


def test_several_key_headers_are_refused_whatever_their_case(payments):
    for fields in (
        [("Idempotency-Key", "a"), ("Idempotency-Key", "b")],
        [("Idempotency-Key", "a"), ("idempotency-key", "a")],
    ):
        answer = pay(payments, fields)
        assert (answer.status, answer.error) == (400, "Idempotency.InvalidKey")
    assert charges(payments) == 0 and payments.items() == []


def test_a_key_of_spaces_only_is_refused(payments):
    answer = pay(payments, key("   "))
    # HTTP parsers drop the blanks around a value: the header is empty, so missing. Had it
    # reached the template, it would be refused all the same (the property test below).
    assert (answer.status, answer.error) == (400, "Idempotency.KeyMissing")
    assert request_key({"Idempotency-Key": "   "}) is None
    assert charges(payments) == 0 and payments.items() == []


ACCEPTED_KEYS = {
    "a UUID": ("8e03978e-40d5-43e8-bc93-6894a57f9324", None),
    "base64": ("dGVzdA+/=", None),
    "255 characters": ("k" * 255, None),
    "255 characters, quoted": ('"' + "k" * 255 + '"', "k" * 255),
    "an escaped quote": ('"a\\"b"', 'a"b'),
    "an escaped backslash": ('"a\\\\b"', "a\\b"),
    "spaces inside quotes": ('"a b"', "a b"),
    "spaces around": ("  k-2  ", "k-2"),
}


@pytest.mark.parametrize(("value", "unescaped"), ACCEPTED_KEYS.values(), ids=ACCEPTED_KEYS.keys())
def test_an_accepted_key_runs_once_and_its_retry_replays_byte_for_byte(payments, value, unescaped):
    first = pay(payments, key(value))
    again = pay(payments, key(value))
    assert (first.status, again.status) == (201, 201)
    assert again.text == first.text
    assert charges(payments) == 1
    (execution,) = [e for e in payments.executions() if S.RUN_WORK in e.states_entered]
    started = json.loads(execution.history[0]["executionStartedEventDetails"]["input"])
    assert started["idempotencyKey"] == (unescaped or value)
    (record,) = payments.items()
    assert record["executionstatus"] == RecordStatus.SUCCEEDED


def test_quoted_bare_and_lower_case_forms_are_one_key(payments):
    answers = [
        pay(payments, [("Idempotency-Key", "k-1")]),
        pay(payments, [("Idempotency-Key", '"k-1"')]),
        pay(payments, [("idempotency-key", "k-1")]),  # HTTP/2 clients send lower case
        pay(payments, [("IDEMPOTENCY-KEY", '"k-1"')]),
    ]
    assert {a.status for a in answers} == {201} and len({a.text for a in answers}) == 1
    assert charges(payments) == 1 and len(payments.items()) == 1


def test_the_query_string_can_neither_supply_nor_override_the_key(payments):
    first = pay(payments, key("K1"))
    other = pay(payments, key("K2"), query="?Idempotency-Key=K1")
    assert other.status == 201 and other.body["paymentId"] != first.body["paymentId"]
    # Two keys that share a blank query parameter are still two keys.
    blank = [pay(payments, key(k), query="?Idempotency-Key=") for k in ("K3", "K4")]
    assert len({a.body["paymentId"] for a in blank}) == 2
    assert charges(payments) == 4 and len(payments.items()) == 4
    # And without the header, the query string does not stand in for it.
    missing = pay(payments, [], query="?Idempotency-Key=K1")
    assert (missing.status, missing.error) == (400, "Idempotency.KeyMissing")
    assert charges(payments) == 4


def rendered_input(headers: dict[str, str], body: str = "{}", user: str = ROLE + "/s") -> dict:
    """The execution input the request template makes of a request (a refusal, or the input).

    The query string holds another key, which must never count.
    """
    context = {
        "requestId": "r",
        "httpMethod": "POST",
        "resourcePath": "/p",
        "identity": {"userArn": user},
        "responseOverride": {"status": None, "header": {}},
    }
    template = request_template(
        "arn", require_key=True, key_includes_route=False, scope_to_caller=True
    )
    params = {"path": {}, "querystring": {"Idempotency-Key": "Q"}, "header": headers}
    rendered = render(template, input=TemplateInput(body, params), context=context)
    return json.loads(json.loads(rendered)["input"])


def request_key(headers: dict[str, str]) -> str | None:
    """What the request template makes of the headers: the key, or None when refused."""
    execution_input = rendered_input(headers)
    return None if "refusal" in execution_input else execution_input["idempotencyKey"]


def reference_key(value: str) -> str | None:
    """The key rule, written independently: draft-07's sf-string or a bare token, 1 to 255."""
    value = value.strip("".join(map(chr, range(0x21))))
    if re.fullmatch(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"', value):
        value = re.sub(r'\\(["\\])', r"\1", value[1:-1])
    elif not re.fullmatch(r"[!#-+\--\[\]-~]+", value):
        return None
    return value if 1 <= len(value) <= 255 else None


HEADER_TEXT = st.text(
    st.characters(min_codepoint=0, max_codepoint=0x7F) | st.sampled_from('"\\é ,;\x00\x7f'),
    max_size=12,
)


@example(value='"\\"\\\\"')
@example(value="\x00k")
@example(value="k" * 256)
@given(value=HEADER_TEXT | st.builds('"{}"'.format, HEADER_TEXT))
def test_the_request_template_applies_the_key_rule_to_any_header(value):
    assert request_key({"Idempotency-Key": value}) == reference_key(value)
    # The query string never counts, whatever it holds.
    assert request_key({"x-other": value}) is None


# -- the body: every mistake is the client's, and a 4xx ---------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"amount": NaN, "currency": "EUR"}',
        '{"amount": Infinity, "currency": "EUR"}',
        '{"amount": -Infinity, "currency": "EUR"}',
        '{"amount": 1e400, "currency": "EUR"}',
        '{"amount": 25, "currency": "EUR"',
        "[]",
        '"text"',
        "",
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused_with_400(payments, text):
    answer = send(payments.url, text, key("k-body"))
    assert (answer.status, answer.error) == (400, "Idempotency.InvalidBody")
    assert charges(payments) == 0 and payments.items() == []


#: The largest note whose request fits: the execution input (caller, key, body) takes at most
#: 258,048 bytes of UTF-8 (256 KiB less 4 KiB for the work's parameters). Measured: with the
#: caller ALICE and a 1-character key, 257,922.
LARGEST_NOTE = 257_922


@pytest.mark.parametrize(
    ("note", "refused"),
    [
        ("x" * LARGEST_NOTE, False),
        ("x" * (LARGEST_NOTE + 1), True),
        ("é" * (LARGEST_NOTE // 2), False),  # two bytes each: bytes count, not characters
        ("é" * (LARGEST_NOTE // 2 + 1), True),
        ("\U0001f600" * (LARGEST_NOTE // 4), False),
        ("\U0001f600" * (LARGEST_NOTE // 4 + 1), True),
    ],
    ids=["ASCII", "ASCII + 1", "2-byte", "2-byte + 1", "4-byte", "4-byte + 1"],
)
def test_the_request_template_counts_the_execution_input_in_bytes(note, refused):
    execution_input = rendered_input(
        {"Idempotency-Key": "k"},
        json.dumps({**PAYMENT, "note": note}),
        "arn:aws:iam::123456789012:user/ALICE",
    )
    assert ("refusal" in execution_input) == refused
    if refused:
        assert execution_input == {  # no key and no body: the execution touches nothing
            "refusal": {
                "status": 413,
                "error": "Idempotency.BodyTooLarge",
                "message": execution_input["refusal"]["message"],
            },
        }


# Over HTTP, a body at the limit runs to the end: the Charge task's Arguments (function name and
# Payload around the input) fit in the room kept for them.
@pytest.mark.parametrize(
    ("note", "status"),
    [
        ("x" * LARGEST_NOTE, 201),
        ("x" * (LARGEST_NOTE + 1), 413),
        ("é" * (LARGEST_NOTE // 2 + 1), 413),
        ("x" * 1_000_000, 413),
    ],
    ids=["at the limit", "one byte over", "non-ASCII over", "a megabyte"],
)
def test_a_body_over_what_an_execution_takes_is_refused_with_413(payments, note, status):
    answer = pay(payments, key("k"), {**PAYMENT, "note": note})
    assert answer.status == status
    if status == 413:
        assert answer.error == "Idempotency.BodyTooLarge"
        assert charges(payments) == 0 and payments.items() == []
    else:
        assert charges(payments) == 1 and len(payments.items()) == 1


def nested(depth: int):
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


def nested_body(depth: int) -> str:
    """The payment with ``deep`` holding ``depth`` arrays, as text (json.dumps recurses)."""
    return json.dumps({**PAYMENT, "deep": None}).replace("null", "[" * depth + '"x"' + "]" * depth)


# The body object and the object of validated fields count: 98 arrays in the body fit.
@pytest.mark.parametrize(("depth", "status"), [(98, 201), (99, 400), (1000, 400)])
def test_a_body_nested_past_the_limit_is_refused_with_400(payments, depth, status):
    answer = send(payments.url, nested_body(depth), key("k-deep"))
    assert answer.status == status
    if status == 400:
        assert answer.error == "Idempotency.InvalidKey"
        assert "nested deeper than 100 levels" in answer.body["cause"]
        assert payments.items() == []
    assert charges(payments) == (1 if status == 201 else 0)


# -- who may replay a key ------------------------------------------------------------------------


def test_an_unsigned_request_is_refused_as_api_gateway_refuses_it(payments):
    answer = pay(payments, key("k-u"), access_key=None)
    assert (answer.status, answer.body) == (403, {"message": "Missing Authentication Token"})
    assert payments.executions() == [] and charges(payments) == 0


def test_a_key_belongs_to_its_caller(payments):
    alice = pay(payments, key("k-shared"), access_key="ALICE")
    mallory = pay(payments, key("k-shared"), access_key="MALLORY")
    # Another caller's same key is another request: it cannot read or block Alice's.
    assert (alice.status, mallory.status) == (201, 201)
    assert alice.body["paymentId"] != mallory.body["paymentId"]
    assert (
        pay(payments, key("k-shared"), {**PAYMENT, "amount": 26}, access_key="MALLORY").status
        == 422
    )
    assert pay(payments, key("k-shared"), access_key="ALICE").text == alice.text
    assert charges(payments) == 2 and len(payments.items()) == 2


def test_a_new_session_of_the_same_role_is_the_same_caller(payments):
    first = pay(payments, key("k-role"), access_key="SESSION1")
    retry = pay(payments, key("k-role"), access_key="SESSION2")  # the SDK refreshed its session
    assert (first.status, retry.status) == (201, 201) and retry.text == first.text
    assert charges(payments) == 1
    (execution, _) = payments.executions()
    started = json.loads(execution.history[0]["executionStartedEventDetails"]["input"])
    assert started["caller"].split() == [ROLE]  # no session name, no API key, no identity


def test_api_keys_tell_callers_apart(payments):
    one = pay(payments, [*key("k-api"), ("x-api-key", "key-one")])
    two = pay(payments, [*key("k-api"), ("x-api-key", "key-two")])
    assert one.body["paymentId"] != two.body["paymentId"] and charges(payments) == 2


@pytest.fixture
def public_api(local_engine):
    stack = Stack(new_app(), "PublicApi")
    IdempotentApi(
        stack,
        "Api",
        work=sfn.Pass.jsonata(stack, "Work", outputs={"id": "{% $uuid() %}"}),
        scope_keys_to_caller=False,
        removal_policy=RemovalPolicy.DESTROY,
    )
    deployed = local_engine.deploy(stack)
    with deployed.serve_api() as api:
        deployed.url = f"{api.url}/"
        yield deployed


def test_without_caller_scope_every_caller_shares_the_key(public_api):
    alice = send(public_api.url, "{}", key("k-public"), access_key="ALICE")
    bob = send(public_api.url, "{}", key("k-public"), access_key="BOB")
    assert (alice.status, bob.status) == (200, 200) and bob.text == alice.text
    assert len(public_api.items()) == 1


# -- answers: the same bytes every time; a result too large fails the first time --------------


def test_a_replay_answers_the_same_bytes_as_the_first_answer(payments):
    body = '{"amount": 120.0, "currency": "EUR", "rate": 1.0000000000000002}'
    first = send(payments.url, body, key("k-bytes"))
    again = send(payments.url, body, key("k-bytes"))
    assert first.status == again.status == 201
    assert again.text == first.text
    # Stored with JSONata's 15 significant digits: the first answer already is.
    assert '"amount":120,' in first.text
    assert charges(payments) == 1


@pytest.fixture
def echo_api(local_engine):
    """An API whose work answers a string of n copies of c: as large as a test needs."""
    deployed = local_engine.deploy(echo_api_stack())
    with deployed.serve_api() as api:
        deployed.url = f"{api.url}/"
        yield deployed


def work_runs(deployed) -> int:
    return sum(e.states_entered.count(S.RUN_WORK) for e in deployed.executions())


def test_an_answer_too_large_to_replay_fails_the_first_time_and_every_retry(echo_api):
    too_large = {"n": 70_000, "c": '"'}  # 280,015 bytes in the record
    first = send(echo_api.url, json.dumps(too_large), key("k-big"))
    again = send(echo_api.url, json.dumps(too_large), key("k-big"))
    assert (first.status, first.error) == (502, "Idempotency.ResultTooLarge")
    assert "The work succeeded, but its output takes 280015 bytes" in first.body["cause"]
    assert again.text == first.text
    fits = {"n": 60_000, "c": '"'}
    stored = send(echo_api.url, json.dumps(fits), key("k-fits"))
    replayed = send(echo_api.url, json.dumps(fits), key("k-fits"))
    assert stored.status == replayed.status == 200 and replayed.text == stored.text
    assert work_runs(echo_api) == 2  # once per key
    statuses = sorted(item["executionstatus"] for item in echo_api.items())
    assert statuses == [RecordStatus.RESULT_TOO_LARGE, RecordStatus.SUCCEEDED]


# -- the workflows on the engine ---------------------------------------------------------------


def echo_stack(workflow_type: sfn.StateMachineType, **props) -> Stack:
    stack = Stack(new_app(), f"Echo{workflow_type.name.capitalize()}")
    IdempotentWorkflow(
        stack,
        "Workflow",
        work=sfn.Pass.jsonata(
            stack, "Echo", outputs={"blob": "{% $pad('', $states.input.n, $states.input.c) %}"}
        ),
        key=IdempotencyKey.from_fields("id"),
        workflow_type=workflow_type,
        removal_policy=RemovalPolicy.DESTROY,
        **props,
    )
    return stack


TYPES = [sfn.StateMachineType.STANDARD, sfn.StateMachineType.EXPRESS]


def largest_replayable(char: str) -> int:
    """Copies of ``char`` in the largest ``{"blob": ...}`` output that a duplicate gets back.

    The record costs the output's JSON text plus one byte per quote and backslash in it:
    ``{"blob":"`` and ``"}`` take 11 bytes and 4 quotes; each copy 1 byte (``x``), or 2 in
    the text and 2 escapes (``"`` and ``\\``, written ``\\"`` and ``\\\\``).
    """
    per_copy = 1 if char == "x" else 4
    return (REPLAYABLE_BYTES - 15) // per_copy


@pytest.mark.parametrize("workflow_type", TYPES, ids=["Standard", "Express"])
@pytest.mark.parametrize("char", ["x", '"', "\\"], ids=["ASCII", "quotes", "backslashes"])
def test_an_output_at_the_replay_limit_replays_and_one_past_it_fails_as_decided(
    local_engine, workflow_type, char
):
    deployed = local_engine.deploy(echo_stack(workflow_type))
    n = largest_replayable(char)
    first = deployed.run({"id": "at", "n": n, "c": char})
    duplicate = deployed.run({"id": "at", "n": 1, "c": "x"})
    assert first.status == duplicate.status == "SUCCEEDED"
    assert duplicate.output == first.output == {"blob": char * n}
    assert duplicate.states_entered[-1] == S.RETURN_STORED_RESULT

    past = deployed.run({"id": "past", "n": n + 1, "c": char})
    again = deployed.run({"id": "past", "n": 1, "c": "x"})
    assert past.error == again.error == "Idempotency.ResultTooLarge"
    assert past.cause.startswith("The work succeeded, but its output takes ")
    assert again.cause == past.cause
    assert past.states_entered[-3:] == [S.STORE_RESULT, S.RECORD_FAILURE, S.FAIL_WITH_WORK_ERROR]
    assert again.states_entered == [
        S.ACQUIRE_LOCK,
        S.READ_RECORD,
        S.CHECK_RECORD,
        S.RESULT_TOO_LARGE,
    ]
    assert sum(e.states_entered.count(S.RUN_WORK) for e in (first, duplicate, past, again)) == 2
    records = {item["execution"]: item for item in deployed.items()}
    assert records[past.arn]["executionstatus"] == RecordStatus.RESULT_TOO_LARGE
    assert "leaseexpiry" not in records[past.arn]  # no lock left behind
    assert records[first.arn]["executionstatus"] == RecordStatus.SUCCEEDED


def test_a_result_too_large_is_not_retried_until_the_record_expires(local_engine):
    deployed = local_engine.deploy(echo_stack(sfn.StateMachineType.EXPRESS))
    n = largest_replayable("x") + 1
    assert deployed.run({"id": "k", "n": n, "c": "x"}).error == "Idempotency.ResultTooLarge"
    set_record(local_engine, deployed, ttl=int(time.time()) - 1)  # expired
    again = deployed.run({"id": "k", "n": 5, "c": "x"})
    assert again.status == "SUCCEEDED" and S.RUN_WORK in again.states_entered


def test_the_first_answer_is_the_stored_one_byte_for_byte(example_stacks, local_engine):
    """A Lambda function answers 120.0 (Python's float): the first run answers what a
    duplicate gets from the record, 120, not 120.0 then 120."""
    for workflow_type in ("Standard", "Express"):
        deployed = local_engine.deploy(example_stacks[f"Transaction{workflow_type}"])
        event = {"TransactionType": "PURCHASE", "TransactionId": "t-120", "Amount": 120.0}
        first, duplicate = deployed.run(event), deployed.run(event)
        raw = [
            local_engine.sfn.describe_execution(executionArn=e.arn)["output"]
            for e in (first, duplicate)
        ]
        assert raw[0] == raw[1] and '"Amount":120,' in raw[0].replace(" ", "")


def key_stack(*paths: str, **props) -> Stack:
    stack = Stack(new_app(), "Keys")
    IdempotentWorkflow(
        stack,
        "Workflow",
        work=sfn.Pass.jsonata(stack, "Work", outputs={"ran": True}),
        key=IdempotencyKey.from_fields(*paths),
        removal_policy=RemovalPolicy.DESTROY,
        **props,
    )
    return stack


@pytest.mark.parametrize(
    ("path", "execution_input", "outcome"),
    [
        ("order.id", {"order": {"id": "x"}}, "SUCCEEDED"),
        ("order.id", {"order": [{"id": "x"}]}, "order.id: the input has an array where"),
        ("order.id", {"order": [{"id": "x"}, {"id": "y"}]}, "the input has an array where"),
        ("order.id", {"order": "x"}, "missing, null or empty"),
        ("order.id", {"order": {"id": ""}}, "missing, null or empty"),
        ("order.id", {"order": {"id": None}}, "missing, null or empty"),
        ("order.id", {"order": {"id": ["x"]}}, "SUCCEEDED"),  # the value may be an array
        ("items.0.sku", {"items": [{"sku": "a"}, {"sku": "b"}]}, "SUCCEEDED"),
        ("items.0.sku", {"items": {"sku": "a"}}, "step 0 indexes an array, but the input has"),
        ("items.0.sku", {"items": []}, "missing, null or empty"),
        ("items.0.sku", {"items": "ab"}, "step 0 indexes an array, but the input has"),
        ("items.0.sku", {"order": 1}, "missing, null or empty"),  # no items: missing
        ("items.1", {"items": [["a"], ["b"]]}, "SUCCEEDED"),
    ],
)
def test_a_key_path_never_reads_one_shape_as_another(local_engine, path, execution_input, outcome):
    deployed = local_engine.deploy(key_stack(path))
    execution = deployed.run(execution_input)
    if outcome == "SUCCEEDED":
        assert execution.status == "SUCCEEDED" and len(deployed.items()) == 1
    else:
        assert execution.error == "Idempotency.InvalidKey"
        assert outcome in execution.cause
        assert execution.states_entered == [S.ACQUIRE_LOCK, S.INVALID_KEY]
        assert deployed.items() == []


def test_an_object_and_an_array_of_it_never_share_a_key(local_engine):
    deployed = local_engine.deploy(key_stack("items.0.sku", payload_fields=["order.id"]))
    assert deployed.run({"items": [{"sku": "a"}], "order": {"id": 1}}).status == "SUCCEEDED"
    flattened = deployed.run({"items": [{"sku": "a"}], "order": [{"id": 1}]})
    # Validated fields follow the same rule: an array where a field is read is refused.
    assert flattened.error == "Idempotency.InvalidKey"
    assert "order.id: the input has an array where the field id is read" in flattened.cause
    assert len(deployed.items()) == 1


@pytest.mark.parametrize(("depth", "status"), [(100, "SUCCEEDED"), (101, "FAILED")])
def test_input_nested_past_the_limit_fails_with_invalid_key(local_engine, depth, status):
    stack = Stack(new_app(), "Deep")
    IdempotentWorkflow(
        stack,
        "Workflow",
        work=sfn.Pass.jsonata(stack, "Work", outputs={"ran": True}),
        removal_policy=RemovalPolicy.DESTROY,
    )
    deployed = local_engine.deploy(stack)
    execution = deployed.run(nested(depth))
    assert execution.status == status
    if status == "FAILED":
        assert execution.error == "Idempotency.InvalidKey"
        assert "nested deeper than 100 levels" in execution.cause
        assert deployed.items() == []


def test_an_express_waiter_outlasts_a_dead_holder_and_runs_the_work(local_engine):
    """Express defaults: 10 polls of 10 s outlast the 90 s lease of a holder that died."""
    deployed = local_engine.deploy(echo_stack(sfn.StateMachineType.EXPRESS))
    assert deployed.run({"id": "k", "n": 1, "c": "x"}).status == "SUCCEEDED"
    lease_end = int(time.time()) + 2
    set_record(
        local_engine,
        deployed,
        executionstatus="IN_PROGRESS",
        execution="arn:aws:states:us-east-1:123456789012:express:Echo:dead:1",
        leaseexpiry=lease_end,
    )
    local_engine.wait_scale = 0.05  # a 10 s poll takes 0.5 s: 10 polls span the 2 s left
    waiter = deployed.run({"id": "k", "n": 2, "c": "y"})
    assert waiter.status == "SUCCEEDED" and waiter.output == {"blob": "yy"}
    assert 1 <= waiter.states_entered.count(S.WAIT_FOR_LOCK) <= 10
    assert time.time() >= lease_end
    (record,) = deployed.items()
    assert record["execution"] == waiter.arn and record["executionstatus"] == "SUCCEEDED"


def test_an_express_lease_no_waiter_could_outlast_is_refused_at_synth():
    with pytest.raises(ValueError, match=r"lease=200 s is too long for a waiter to outlast"):
        echo_stack(sfn.StateMachineType.EXPRESS, lease=Duration.seconds(200))
