"""Replays say so (issue 25): ``Idempotent-Replayed`` over real HTTP on the served API, the
access log's replay flag, and the workflows' opt-in replay report on the engine."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from conftest import echo_api_stack, jsonata_machine, new_app, set_record

from idempotent_workflows import (
    IdempotencyKey,
    IdempotencyProtocol,
    IdempotencyTable,
    IdempotentApi,
    IdempotentWorkflow,
    ReplayHeaders,
    ReplayReport,
)
from idempotent_workflows import ProtocolState as S
from idempotent_workflows.private.record import REPLAYABLE_BYTES
from idempotent_workflows.testing import Response, post_json

PAYMENT = {"amount": 25, "currency": "EUR"}
REPLAYED = "Idempotent-Replayed"
KEY = "Idempotency-Key"


@pytest.fixture
def payments(example_stacks, local_engine):
    """The example PaymentsApi, served; ``payments.url`` is its ``/payments`` method."""
    deployed = local_engine.deploy(example_stacks["PaymentsApi"])
    with deployed.serve_api() as api:
        deployed.url = f"{api.url}/payments"
        deployed.api = api
        yield deployed


def pay(deployed, key: str | None, body=PAYMENT, **kwargs) -> Response:
    return post_json(deployed.url, body, {} if key is None else {KEY: key}, **kwargs)


def charges(deployed) -> int:
    return deployed.function("Charge").invocations


def started_with(execution) -> dict:
    """The input an execution started with."""
    return json.loads(execution.history[0]["executionStartedEventDetails"]["input"])


def access_log(deployed) -> list[dict]:
    return [json.loads(line) for line in deployed.api.access_log]


# -- over HTTP: the flag and the echoed key ------------------------------------------------------


def test_a_first_answer_says_false_and_its_retry_says_true_with_the_same_bytes(payments):
    first = pay(payments, "order-1")
    retry = pay(payments, "order-1")
    assert first.status == retry.status == 201
    assert (first.headers[REPLAYED], retry.headers[REPLAYED]) == ("false", "true")
    assert first.headers[KEY] == retry.headers[KEY] == "order-1"
    assert retry.body == first.body and json.loads(first.body)["status"] == "CHARGED"
    assert charges(payments) == 1


def test_the_echoed_key_is_the_key_unescaped_never_the_caller(payments):
    quoted = pay(payments, '"order \\"2\\" \\\\ a"')
    bare = pay(payments, "order-2b")
    assert quoted.status == bare.status == 201
    assert quoted.headers[KEY] == 'order "2" \\ a'
    assert bare.headers[KEY] == "order-2b"
    # The caller scopes the key in the workflow (LOCALCALLER signed), never in the echo.
    (execution, _) = payments.executions()
    caller = started_with(execution)["caller"]
    assert caller.startswith("arn:aws:iam::123456789012:user/LOCALCALLER")
    assert "LOCALCALLER" not in quoted.headers[KEY] + bare.headers[KEY]


def test_concurrent_duplicates_one_answer_runs_the_rest_are_replays(payments, local_engine):
    local_engine.wait_scale = 1.0  # polls of a real 2 s: the waiters outlast the work
    payments.function("Charge").latency = 0.5
    barrier = threading.Barrier(6)

    def request(_):
        barrier.wait()
        return pay(payments, "order-3")

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(request, range(6)))
    assert [answer.status for answer in answers] == [201] * 6
    assert sorted(answer.headers[REPLAYED] for answer in answers) == ["false"] + ["true"] * 5
    assert len({answer.body for answer in answers}) == 1
    assert {answer.headers[KEY] for answer in answers} == {"order-3"}
    assert charges(payments) == 1


def test_a_payload_mismatch_carries_no_replay_flag(payments):
    assert pay(payments, "order-4").headers[REPLAYED] == "false"
    other = pay(payments, "order-4", {**PAYMENT, "amount": 26})
    assert other.status == 422 and json.loads(other.body)["error"] == "Idempotency.PayloadMismatch"
    assert REPLAYED not in other.headers
    assert other.headers[KEY] == "order-4"
    assert charges(payments) == 1


def test_a_failure_is_not_stored_so_each_retry_runs_the_work_and_says_false(payments):
    declined = {"amount": 20_000, "currency": "EUR"}
    first = pay(payments, "order-5", declined)
    retry = pay(payments, "order-5", declined)
    assert first.status == retry.status == 402
    assert (first.headers[REPLAYED], retry.headers[REPLAYED]) == ("false", "false")
    assert retry.body == first.body
    assert json.loads(first.body)["error"] == "PaymentDeclined"
    assert first.headers[KEY] == "order-5"
    assert charges(payments) == 2


def test_answers_that_are_not_the_keys_outcome_carry_no_flag(payments, local_engine):
    refused = pay(payments, "a b")  # a space: the key rule refuses it
    missing = pay(payments, None)
    too_large = pay(payments, "order-6", {"note": "x" * 270_000})
    assert (refused.status, missing.status, too_large.status) == (400, 400, 413)
    for answer in (refused, missing, too_large):
        assert REPLAYED not in answer.headers and KEY not in answer.headers
    # 409: the key is still held; no outcome yet, but the key it waited for.
    pay(payments, "order-7")
    set_record(
        local_engine,
        payments,
        executionstatus="IN_PROGRESS",
        execution="arn:aws:states:us-east-1:123456789012:express:PaymentsWorkflow:alive:1",
        leaseexpiry=int(time.time()) + 600,
    )
    held = pay(payments, "order-7")
    assert held.status == 409 and REPLAYED not in held.headers
    assert held.headers[KEY] == "order-7"
    assert charges(payments) == 1


def test_the_access_log_says_which_answers_were_replays(payments):
    pay(payments, "order-8")
    pay(payments, "order-8")
    pay(payments, "order-8", {**PAYMENT, "amount": 30})
    pay(payments, None)
    lines = access_log(payments)
    assert [(line["status"], line["replayed"]) for line in lines] == [
        ("201", "false"),
        ("201", "true"),
        ("422", "-"),
        ("400", "-"),
    ]
    assert {line["resourcePath"] for line in lines} == {"/payments"}
    assert all(line["requestId"] != "-" and line["responseLength"] != "-" for line in lines)


def test_the_access_log_format_is_the_stages(payments):
    template = Template.from_json(payments.template)
    (stage,) = template.find_resources("AWS::ApiGateway::Stage").values()
    log_format = json.loads(stage["Properties"]["AccessLogSetting"]["Format"])
    assert log_format["replayed"] == "$context.responseOverride.header.Idempotent-Replayed"
    assert log_format["status"] == "$context.status"


# -- a stored failure: Idempotency.ResultTooLarge -----------------------------------------------


@pytest.fixture
def echo_api(local_engine):
    """An API whose work answers ``n`` copies of ``c``, with replay headers of other names."""
    headers = ReplayHeaders(replayed="X-Replayed", key="X-Idempotency-Key")
    deployed = local_engine.deploy(echo_api_stack(replay_headers=headers))
    with deployed.serve_api() as api:
        deployed.url = f"{api.url}/"
        deployed.api = api
        yield deployed


def test_a_stored_failure_says_false_first_then_true_with_the_same_bytes(echo_api):
    too_large = {"n": 70_000, "c": '"'}
    first = pay(echo_api, "k-big", too_large)
    retry = pay(echo_api, "k-big", too_large)
    assert first.status == retry.status == 502
    assert json.loads(first.body)["error"] == "Idempotency.ResultTooLarge"
    assert (first.headers["X-Replayed"], retry.headers["X-Replayed"]) == ("false", "true")
    # The workflow's cause says "Replay of the stored failure: "; the answer is the first's.
    assert retry.body == first.body
    assert json.loads(first.body)["cause"].startswith("The work succeeded, but its output")
    assert sum(e.states_entered.count(S.RUN_WORK) for e in echo_api.executions()) == 1


#: Quotes in the largest ``{"blob": ...}`` output that replays: the record counts its JSON text
#: (11 bytes and 2 per quote, written \") plus one per quote and backslash in it (4, and 2).
LARGEST_QUOTES = (REPLAYABLE_BYTES - 15) // 4


def test_an_answer_at_the_replay_limit_replays_with_the_flag(echo_api):
    at_limit = {"n": LARGEST_QUOTES, "c": '"'}
    first = pay(echo_api, "k-limit", at_limit)
    retry = pay(echo_api, "k-limit", at_limit)
    assert first.status == retry.status == 200
    assert (first.headers["X-Replayed"], retry.headers["X-Replayed"]) == ("false", "true")
    assert retry.body == first.body and len(first.body) == 11 + 2 * LARGEST_QUOTES


def test_the_header_names_are_configurable(echo_api):
    first = pay(echo_api, '"k-named"', {"n": 3, "c": "x"})
    retry = pay(echo_api, "k-named", {"n": 3, "c": "x"})
    assert (first.headers["X-Replayed"], retry.headers["X-Replayed"]) == ("false", "true")
    assert first.headers["X-Idempotency-Key"] == retry.headers["X-Idempotency-Key"] == "k-named"
    assert REPLAYED not in first.headers and KEY not in first.headers
    assert [line["replayed"] for line in access_log(echo_api)] == ["false", "true"]
    assert retry.body == first.body == '{"blob":"xxx"}'


def test_the_route_scopes_the_key_in_a_field_of_its_own(local_engine):
    stack = Stack(new_app(), "RoutedApi")
    IdempotentApi(
        stack,
        "Api",
        work=sfn.Pass.jsonata(stack, "Work", outputs={"ok": True}),
        path="orders",
        key_includes_route=True,
        removal_policy=RemovalPolicy.DESTROY,
    )
    deployed = local_engine.deploy(stack)
    with deployed.serve_api() as api:
        first = post_json(f"{api.url}/orders", {}, {KEY: "k-route"})
        retry = post_json(f"{api.url}/orders", {}, {KEY: "k-route"})
    assert (first.headers[REPLAYED], retry.headers[REPLAYED]) == ("false", "true")
    assert first.headers[KEY] == "k-route"
    assert started_with(deployed.executions()[0])["route"] == "POST /orders"


def test_without_a_required_key_the_echo_is_the_request_id_it_ran_with(local_engine):
    deployed = local_engine.deploy(echo_api_stack(require_key=False))
    with deployed.serve_api() as api:
        answers = [post_json(f"{api.url}/", {"n": 1, "c": "x"}) for _ in range(2)]
    assert [answer.headers[REPLAYED] for answer in answers] == ["false", "false"]
    keys = [answer.headers[KEY] for answer in answers]
    assert keys[0] != keys[1]  # each request is keyed on its own request id: both ran
    assert keys == [started_with(e)["idempotencyKey"] for e in deployed.executions()]


# -- the props ---------------------------------------------------------------------------------


def api_stack(**props) -> Stack:
    stack = Stack(new_app(), "Api")
    IdempotentApi(stack, "Api", work=sfn.Pass.jsonata(stack, "Work"), **props)
    return stack


def test_every_status_declares_the_replay_headers():
    template = Template.from_stack(api_stack(replay_headers=ReplayHeaders(replayed="X-R")))
    (method,) = template.find_resources("AWS::ApiGateway::Method").values()
    for response in method["Properties"]["MethodResponses"]:
        parameters = response["ResponseParameters"]
        assert parameters["method.response.header.X-R"] is True
        assert parameters["method.response.header.Idempotency-Key"] is True
        assert ("method.response.header.Retry-After" in parameters) == (
            response["StatusCode"] == "409"
        )


@pytest.mark.parametrize(
    ("headers", "error", "message"),
    [
        (
            {"replayed": "Replayed Flag"},
            ValueError,
            r"^ReplayHeaders: replayed got 'Replayed Flag': a header name here is a letter",
        ),
        ({"key": "1-Key"}, ValueError, r"key got '1-Key'"),
        ({"key": "K_ey"}, ValueError, r"key got 'K_ey'"),
        ({"replayed": "retry-after"}, ValueError, r"already sets: choose another name"),
        ({"key": "X-Amzn-Key"}, ValueError, r"already sets"),
        (
            {"replayed": "idempotency-key"},
            ValueError,
            r"replayed and key are both 'Idempotency-Key'",
        ),
        ({"replayed": True}, TypeError, r"replayed must be a header name \(a str\), got bool"),
    ],
)
def test_header_names_that_cannot_work_are_refused_when_made(headers, error, message):
    with pytest.raises(error, match=message):
        ReplayHeaders(**headers)


def test_replay_props_of_the_wrong_type_name_the_construct_and_the_fix():
    with pytest.raises(TypeError, match=r"^IdempotentApi: replay_headers must be a ReplayHeaders"):
        api_stack(replay_headers={"replayed": "X-R"})
    stack = Stack(new_app(), "Workflow")
    with pytest.raises(TypeError, match=r"^IdempotentWorkflow: replay_report must be a Replay"):
        IdempotentWorkflow(
            stack, "Workflow", work=sfn.Pass.jsonata(stack, "Work"), replay_report="envelope"
        )


# -- the workflows: the opt-in envelope, the variable, the default ------------------------------

TYPES = [sfn.StateMachineType.STANDARD, sfn.StateMachineType.EXPRESS]


def workflow_stack(workflow_type, report: ReplayReport | None, outputs) -> Stack:
    stack = Stack(new_app(), f"Report{workflow_type.name.capitalize()}")
    IdempotentWorkflow(
        stack,
        "Workflow",
        work=sfn.Pass.jsonata(stack, "Work", outputs=outputs),
        key=IdempotencyKey.from_fields("id"),
        workflow_type=workflow_type,
        removal_policy=RemovalPolicy.DESTROY,
        **({} if report is None else {"replay_report": report}),
    )
    return stack


RESULTS = {
    "object": {"charge": "{% $states.input.id %}", "amount": 120.5},
    "string": "{% 'charged ' & $states.input.id %}",
    "null": None,
}


@pytest.mark.parametrize("workflow_type", TYPES, ids=["Standard", "Express"])
@pytest.mark.parametrize("result", list(RESULTS), ids=list(RESULTS))
def test_the_envelope_says_whether_the_output_is_a_replay(local_engine, workflow_type, result):
    plain = local_engine.deploy(workflow_stack(workflow_type, None, RESULTS[result]))
    enveloped = local_engine.deploy(
        workflow_stack(workflow_type, ReplayReport.ENVELOPE, RESULTS[result])
    )
    expected = plain.run({"id": "k"}).output
    first = enveloped.run({"id": "k"})
    duplicate = enveloped.run({"id": "k"})
    assert first.output == {"replayed": False, "result": expected}
    assert duplicate.output == {"replayed": True, "result": expected}
    assert first.states_entered[-1] == S.STORE_RESULT
    assert duplicate.states_entered[-1] == S.RETURN_STORED_RESULT
    assert sum(e.states_entered.count(S.RUN_WORK) for e in (first, duplicate)) == 1


@pytest.mark.parametrize("workflow_type", TYPES, ids=["Standard", "Express"])
def test_by_default_the_output_is_the_result_replayed_or_not(local_engine, workflow_type):
    for report in (None, ReplayReport.NONE, ReplayReport.VARIABLE):
        stack = workflow_stack(workflow_type, report, RESULTS["object"])
        deployed = local_engine.deploy(stack)
        first, duplicate = deployed.run({"id": "k"}), deployed.run({"id": "k"})
        assert first.output == duplicate.output == {"charge": "k", "amount": 120.5}
        definition = json.dumps(Template.from_stack(stack).to_json())
        assert ("idemReplayed" in definition) == (report == ReplayReport.VARIABLE)
        assert '"replayed"' not in definition
    default = Template.from_stack(workflow_stack(workflow_type, None, RESULTS["object"]))
    explicit = Template.from_stack(
        workflow_stack(workflow_type, ReplayReport.NONE, RESULTS["object"])
    )
    assert default.to_json() == explicit.to_json()


@pytest.mark.parametrize("workflow_type", TYPES, ids=["Standard", "Express"])
def test_an_embedded_protocol_assigns_whether_it_replayed(local_engine, workflow_type):
    stack = Stack(new_app(), f"Embedded{workflow_type.name.capitalize()}")
    protocol = IdempotencyProtocol(
        stack,
        "Protocol",
        work=sfn.Pass.jsonata(stack, "Work", outputs={"charged": True}),
        table=IdempotencyTable(stack, "Records", removal_policy=RemovalPolicy.DESTROY),
        key=IdempotencyKey.from_fields("id"),
        workflow_type=workflow_type,
        replay_report=ReplayReport.VARIABLE,
    )
    afterwards = sfn.Pass.jsonata(
        stack,
        "Afterwards",
        outputs={"result": "{% $states.input %}", "replayed": "{% $idemReplayed %}"},
    )
    jsonata_machine(stack, "Machine", protocol.next(afterwards), state_machine_type=workflow_type)
    deployed = local_engine.deploy(stack)
    first, duplicate = deployed.run({"id": "k"}), deployed.run({"id": "k"})
    assert first.output == {"result": {"charged": True}, "replayed": False}
    assert duplicate.output == {"result": {"charged": True}, "replayed": True}


@pytest.mark.parametrize("workflow_type", TYPES, ids=["Standard", "Express"])
def test_the_envelope_does_not_move_the_replay_limit(local_engine, workflow_type):
    blob = {"blob": "{% $pad('', $states.input.n, '\"') %}"}
    deployed = local_engine.deploy(workflow_stack(workflow_type, ReplayReport.ENVELOPE, blob))
    first = deployed.run({"id": "at", "n": LARGEST_QUOTES})
    duplicate = deployed.run({"id": "at", "n": 1})
    assert duplicate.output == {"replayed": True, "result": {"blob": '"' * LARGEST_QUOTES}}
    assert first.output == {**duplicate.output, "replayed": False}
    past = deployed.run({"id": "past", "n": LARGEST_QUOTES + 1})
    assert past.error == "Idempotency.ResultTooLarge"


def test_a_replayed_stored_failure_says_so_in_its_cause(local_engine):
    # 140,011 bytes of JSON, but each quote costs two more in the record: too large.
    blob = {"blob": "{% $pad('', 70000, '\"') %}"}
    stack = workflow_stack(sfn.StateMachineType.EXPRESS, ReplayReport.ENVELOPE, blob)
    deployed = local_engine.deploy(stack)
    first, duplicate = deployed.run({"id": "k"}), deployed.run({"id": "k"})
    assert first.error == duplicate.error == "Idempotency.ResultTooLarge"
    assert first.cause.startswith("The work succeeded, but its output takes ")
    assert duplicate.cause == "Replay of the stored failure: " + first.cause
    assert duplicate.states_entered[-1] == S.RESULT_TOO_LARGE
