"""IdempotentApi: the synthesized REST API, and real HTTP requests to it served by the engine."""

from __future__ import annotations

import copy
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from aws_cdk import Duration, Stack, Stage
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk.assertions import Template
from conftest import as_list, new_app, only_record, set_record

from idempotent_workflows import IdempotentApi, ReplayHeaders, RetryPolicy, StatusMap
from idempotent_workflows import ProtocolState as S
from idempotent_workflows.private.mapping_templates import execution_response_template
from idempotent_workflows.testing import Execution, post_json
from idempotent_workflows.testing.apigateway.vtl import (
    TemplateInput,
    escape_java_script,
    json_path,
    render,
)

PAYMENT = {"amount": 25, "currency": "EUR"}


def post(url, body, key=None, headers=None):
    """POST JSON over HTTP (urllib); (status, headers, parsed body), whatever the status."""
    sent = {**(headers or {}), **({} if key is None else {"Idempotency-Key": key})}
    answer = post_json(url, body, sent)
    return answer.status, answer.headers, json.loads(answer.body)


@pytest.fixture
def payments(example_stacks, local_engine):
    return local_engine.deploy(example_stacks["PaymentsApi"])


@pytest.fixture
def api(payments):
    with payments.serve_api() as served:
        served.payments_url = f"{served.url}/payments"
        yield served


def executions(deployed, engine) -> list[Execution]:
    """Every execution of the stack's state machine, oldest first."""
    listed = engine.sfn.list_executions(stateMachineArn=deployed.state_machine())["executions"]
    ordered = sorted(listed, key=lambda e: e["startDate"])
    return [Execution(e["executionArn"], engine) for e in ordered]


def method_of(template: dict) -> dict:
    (method,) = Template.from_json(template).find_resources("AWS::ApiGateway::Method").values()
    return method["Properties"]


# -- HTTP: every status ----------------------------------------------------------------------


def test_a_payment_is_created_once_and_a_retry_gets_the_same_receipt(api, payments):
    status, _, receipt = post(api.payments_url, PAYMENT, key="order-1")
    assert status == 201
    assert receipt["status"] == "CHARGED" and receipt["amount"] == 25
    again = post(api.payments_url, PAYMENT, key="order-1")
    assert again[0] == 201 and again[2] == receipt
    assert payments.function("Charge").invocations == 1


def test_a_structured_fields_key_is_the_same_key_as_the_bare_token(api, payments):
    first = post(api.payments_url, PAYMENT, key="order-2")
    quoted = post(api.payments_url, PAYMENT, key='"order-2"')
    assert quoted[0] == 201 and quoted[2] == first[2]
    assert payments.function("Charge").invocations == 1


def test_a_duplicate_request_costs_the_states_of_a_duplicate_and_nothing_more(
    api, payments, local_engine
):
    post(api.payments_url, PAYMENT, key="order-3")
    post(api.payments_url, PAYMENT, key="order-3")
    first, duplicate = executions(payments, local_engine)
    assert duplicate.states_entered == [
        S.ACQUIRE_LOCK,
        S.READ_RECORD,
        S.CHECK_RECORD,
        S.RETURN_STORED_RESULT,
    ]
    assert duplicate.lambda_invocations == 0
    assert duplicate.dynamodb_calls == ["updateItem", "getItem"]
    assert first.states_entered[-1] == S.STORE_RESULT


def test_the_same_key_with_another_body_is_refused_with_422(api, payments):
    post(api.payments_url, PAYMENT, key="order-4")
    status, _, body = post(api.payments_url, {**PAYMENT, "amount": 26}, key="order-4")
    assert status == 422
    assert body["error"] == "Idempotency.PayloadMismatch"
    assert "send a new key" in body["cause"]
    assert payments.function("Charge").invocations == 1


def test_a_missing_key_is_refused_with_400_and_a_clear_body(api, payments):
    status, _, body = post(api.payments_url, PAYMENT)
    assert status == 400
    assert body["error"] == "Idempotency.KeyMissing"
    assert body["message"].startswith("Missing required request parameters: [Idempotency-Key].")
    assert "Send an Idempotency-Key header" in body["message"]
    assert payments.function("Charge").invocations == 0
    assert payments.items() == []


def test_a_body_that_is_not_an_object_is_refused_with_400(api, payments):
    status, _, body = post(api.payments_url, [PAYMENT], key="order-5")
    assert (status, body["error"]) == (400, "Idempotency.InvalidBody")
    assert payments.function("Charge").invocations == 0


def test_a_key_still_held_after_the_poll_bound_answers_409_with_retry_after(
    api, payments, local_engine
):
    post(api.payments_url, PAYMENT, key="order-6")
    holder = "arn:aws:states:us-east-1:123456789012:express:PaymentsWorkflow:alive:4f1c"
    lease_end = int(time.time()) + 600
    set_record(
        local_engine,
        payments,
        executionstatus="IN_PROGRESS",
        execution=holder,
        leaseexpiry=lease_end,
    )
    status, headers, body = post(api.payments_url, PAYMENT, key="order-6")
    assert status == 409
    # The seconds until the holder's lease ends: then the key is done or free.
    assert 590 <= int(headers["Retry-After"]) <= 600
    assert body["error"] == "Idempotency.LockWaitTimeout"
    assert body["cause"].startswith(
        "Execution alive still holds the key after 4 polls, 2 s apart; its lease ends in "
    )
    assert time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(lease_end)) in body["cause"]
    assert "123456789012" not in body["cause"] and "PaymentsWorkflow" not in body["cause"]
    assert payments.function("Charge").invocations == 1


def test_a_request_racing_slow_work_gets_409_then_the_result(api, payments, local_engine):
    payments.function("Charge").latency = 2.0  # outlasts the racing request's 4 short polls
    first = ThreadPoolExecutor(1).submit(post, api.payments_url, PAYMENT, "order-7")
    deadline = time.monotonic() + 30
    while not payments.items() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert only_record(payments)["executionstatus"] == "IN_PROGRESS"
    racing = post(api.payments_url, PAYMENT, key="order-7")
    assert racing[0] == 409 and "Retry-After" in racing[1]
    created = first.result()
    assert created[0] == 201
    assert post(api.payments_url, PAYMENT, key="order-7")[2] == created[2]
    assert payments.function("Charge").invocations == 1


def test_work_errors_answer_their_mapped_status_with_name_and_message(api, payments):
    declined = post(api.payments_url, {"amount": 20_000, "currency": "EUR"}, key="order-8")
    assert declined == (
        402,
        declined[1],
        {
            "status": "FAILED",
            "error": "PaymentDeclined",
            "cause": "amount 20000 is over the limit of 10000",
        },
    )
    invalid = post(api.payments_url, {"amount": -1, "currency": "EUR"}, key="order-9")
    assert invalid[0] == 400 and invalid[2]["error"] == "InvalidPayment"
    assert "Traceback" not in json.dumps(invalid[2]) and "stackTrace" not in json.dumps(invalid[2])


def test_ten_concurrent_identical_requests_run_the_work_once(api, payments, local_engine):
    local_engine.wait_scale = 1.0  # polls of a real 2 s: the waiters outlast the work
    payments.function("Charge").latency = 0.5
    barrier = threading.Barrier(10)

    def request(_):
        barrier.wait()
        return post(api.payments_url, PAYMENT, key="order-10")

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(request, range(10)))
    assert [status for status, _, _ in answers] == [201] * 10
    assert len({json.dumps(body) for _, _, body in answers}) == 1
    assert payments.function("Charge").invocations == 1


def test_a_key_and_body_with_quotes_and_non_ascii_reach_the_work_intact(api, payments):
    body = {**PAYMENT, "note": 'O\'Brien "quoted" / é ✓ \n'}
    status, _, _ = post(api.payments_url, body, key='"it\'s-\\"11\\"-\\\\"')
    assert status == 201
    (record,) = payments.items()
    assert "it's" not in record["id"]  # hashed
    (execution,) = executions(payments, payments.engine)
    assert json.loads(execution.history[0]["executionStartedEventDetails"]["input"]) == {
        "caller": "arn:aws:iam::123456789012:user/LOCALCALLER  ",
        "idempotencyKey": 'it\'s-"11"-\\',
        "body": body,
    }


# -- HTTP: a bare IdempotentApi (default statuses, machinery errors) -------------------------


@pytest.fixture
def failing_api(local_engine):
    stack = Stack(new_app(), "FailingApi")
    IdempotentApi(
        stack,
        "Api",
        work=sfn.Fail.jsonata(stack, "Broken", error="Work.Broken", cause="it broke"),
        path="things/new",
    )
    deployed = local_engine.deploy(stack)
    with deployed.serve_api() as served:
        yield deployed, served


def test_an_unmapped_work_error_answers_500_with_its_name_and_cause(failing_api):
    _, served = failing_api
    status, _, body = post(f"{served.url}/things/new", {"x": 1}, key="k")
    assert (status, body) == (
        500,
        {"status": "FAILED", "error": "Work.Broken", "cause": "it broke"},
    )


def test_a_refused_start_answers_502_naming_the_service_error(failing_api, local_engine):
    deployed, _ = failing_api
    template = copy.deepcopy(deployed.template)
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:Missing"
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ApiGateway::Method":
            for request in resource["Properties"]["Integration"]["RequestTemplates"].values():
                parts = request["Fn::Join"][1]
                parts[:] = [part if isinstance(part, str) else missing for part in parts]
    refused = local_engine.deploy_template(template, stack_name="Refused", asset_dir=Path("."))
    with refused.serve_api() as served:
        status, _, body = post(f"{served.url}/things/new", {"x": 1}, key="k")
    assert status == 502
    assert body["error"] == "Idempotency.StartFailed"
    assert body["cause"].startswith("StateMachineDoesNotExist")


def test_an_unknown_route_answers_like_api_gateway(failing_api):
    _, served = failing_api
    status, _, body = post(f"{served.url}/things/old", {}, key="k")
    assert (status, body) == (403, {"message": "Missing Authentication Token"})


# -- the templates rendered are the synthesized ones -----------------------------------------


def test_the_server_renders_the_templates_of_the_synthesized_template(api, payments):
    post(api.payments_url, PAYMENT, key="order-12")
    post(api.payments_url, PAYMENT)  # missing key: the gateway response
    method = method_of(payments.template)
    integration = method["Integration"]
    (request_template,) = integration["RequestTemplates"].values()
    success, _failed_start = integration["IntegrationResponses"]
    (gateway,) = [
        r["Properties"]["ResponseTemplates"]["application/json"]
        for r in payments.template["Resources"].values()
        if r["Type"] == "AWS::ApiGateway::GatewayResponse"
        and r["Properties"]["ResponseType"] == "BAD_REQUEST_PARAMETERS"
    ]
    # The state machine's ARN is a token in the template, resolved when deployed.
    assert "Fn::Join" in request_template
    assert len(api.rendered) == 3
    rendered_request, rendered_response, rendered_gateway = api.rendered
    assert rendered_request == "".join(
        part if isinstance(part, str) else payments.state_machine()
        for part in request_template["Fn::Join"][1]
    )
    assert rendered_response == success["ResponseTemplates"]["application/json"]
    assert rendered_gateway == gateway


def test_a_changed_template_changes_the_answer(example_stacks, local_engine):
    stack = example_stacks["PaymentsApi"]
    assembly = Stage.of(stack).synth()
    template = copy.deepcopy(assembly.get_stack_artifact(stack.artifact_id).template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ApiGateway::Method":
            response = resource["Properties"]["Integration"]["IntegrationResponses"][0]
            text = response["ResponseTemplates"]["application/json"]
            response["ResponseTemplates"]["application/json"] = text.replace(
                '"status": "$status"', '"outcome": "$status"'
            )
    deployed = local_engine.deploy_template(
        template, stack_name="ChangedPayments", asset_dir=Path(assembly.directory)
    )
    with deployed.serve_api() as served:
        status, _, body = post(f"{served.url}/payments", {"amount": 20_000, "currency": "EUR"}, "k")
    assert status == 402
    assert body["outcome"] == "FAILED" and "status" not in body


# -- the synthesized API ---------------------------------------------------------------------


def test_the_method_calls_start_sync_execution_directly(example_stacks):
    template = Template.from_stack(example_stacks["PaymentsApi"])
    method = method_of(template.to_json())
    integration = method["Integration"]
    assert integration["Type"] == "AWS"
    assert integration["Uri"]["Fn::Join"][1][-1].endswith(":states:action/StartSyncExecution")
    assert integration["PassthroughBehavior"] == "NEVER"
    assert method["RequestParameters"] == {"method.request.header.Idempotency-Key": True}
    assert method["AuthorizationType"] == "AWS_IAM"
    statuses = sorted(int(r["StatusCode"]) for r in method["MethodResponses"])
    assert statuses == [201, 400, 402, 409, 413, 422, 500, 502, 504]
    (validator,) = template.find_resources("AWS::ApiGateway::RequestValidator").values()
    assert validator["Properties"]["ValidateRequestParameters"] is True
    assert validator["Properties"]["ValidateRequestBody"] is True
    template.resource_count_is("AWS::Lambda::Function", 1)  # the charge itself, no proxy
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    assert machine["Properties"]["StateMachineType"] == "EXPRESS"


def test_the_stage_is_throttled_traced_and_access_logged(example_stacks):
    template = Template.from_stack(example_stacks["PaymentsApi"])
    (stage,) = template.find_resources("AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    assert properties["TracingEnabled"] is True
    assert "DestinationArn" in properties["AccessLogSetting"]
    assert json.loads(properties["AccessLogSetting"]["Format"])["status"] == "$context.status"
    (settings,) = properties["MethodSettings"]
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (50, 100)


def test_the_integration_role_may_only_start_sync_executions_of_its_workflow(example_stacks):
    template = Template.from_stack(example_stacks["PaymentsApi"]).to_json()
    role = method_of(template)["Integration"]["Credentials"]["Fn::GetAtt"][0]
    (machine,) = [
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    statements = [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        and {"Ref": role} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert [(as_list(s["Action"]), s["Resource"]) for s in statements] == [
        (["states:StartSyncExecution"], {"Ref": machine})
    ]


def build(**props):
    stack = Stack(new_app(), "Api")
    work = sfn.Pass.jsonata(stack, "Work")
    return IdempotentApi(stack, "Api", work=work, **props)


def test_the_default_poll_bound_fits_api_gateways_timeout():
    protocol = build().workflow.protocol
    assert (protocol.poll_interval_seconds, protocol.max_polls) == (2, 4)
    assert protocol.retry.worst_case_seconds == 3
    # The waiter's worst case: the acquire and 5 reads, each with its retries, and 4 waits.
    assert 3 + 5 * 3 + 4 * 2 <= 29 - 1


@pytest.mark.parametrize(
    ("props", "message"),
    [
        (
            {"max_polls": 5},
            r"^IdempotentApi: max_polls=5 polls of 2 s, with the worst-case retry waits \(3 s "
            r"per DynamoDB call\), cannot end within API Gateway's 29 s integration timeout .* "
            r"at most 4",
        ),
        (
            {"poll_interval": Duration.seconds(30)},
            r"^IdempotentApi: any poll of 30 s, .* at most 0",
        ),
        ({"dynamodb_retry": RetryPolicy(max_attempts=5)}, "pass a smaller dynamodb_retry"),
        ({"error_statuses": {"X": 409}}, r"error_statuses\['X'\] is 409"),
        ({"body_fields": ["amount$"]}, "expected a dotted field path"),
    ],
)
def test_configurations_that_cannot_work_are_refused_at_synth(props, message):
    with pytest.raises(ValueError, match=message):
        build(**props)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"require_key": "yes"}, "require_key must be a bool"),
        ({"poll_interval": 2}, r"pass poll_interval=Duration.seconds\(2\)"),
        ({"success_status": "201"}, "success_status must be an HTTP status"),
        (
            {"body_fields": "amount"},
            r"^IdempotentApi: body_fields .* pass body_fields=\['amount'\]",
        ),
    ],
)
def test_wrong_prop_types_name_the_prop_and_the_fix(props, message):
    with pytest.raises(TypeError, match=message):
        build(**props)


def test_body_fields_validate_only_those_fields_and_the_route_can_be_part_of_the_key():
    api = build(body_fields=["amount", "card.last4"], key_includes_route=True)
    assert api.workflow.protocol.payload_fields == ("body.amount", "body.card.last4")
    # The route is a field of its own: the key field keeps the key as the client sent it.
    assert api.workflow.protocol.key.fields == ("caller", "route", "idempotencyKey")
    request = method_of(Template.from_stack(Stack.of(api)).to_json())["Integration"]
    text = json.dumps(request["RequestTemplates"])
    assert "${q}route${q}: ${q}$context.httpMethod $context.resourcePath${q}" in text
    assert build(body_fields=()).workflow.protocol.payload_fields == ()


def test_an_api_key_adds_a_usage_plan_with_the_same_throttling():
    api = build(api_key_required=True, throttling_rate_limit=5, throttling_burst_limit=10)
    template = Template.from_stack(Stack.of(api))
    template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    (plan,) = template.find_resources("AWS::ApiGateway::UsagePlan").values()
    assert plan["Properties"]["Throttle"] == {"RateLimit": 5, "BurstLimit": 10}
    assert method_of(template.to_json())["ApiKeyRequired"] is True


# -- the VTL helpers -------------------------------------------------------------------------


def test_escape_java_script_escapes_like_commons_lang():
    assert escape_java_script('O\'Brien "x" a/b \\ \n\t é ✓ 😀') == (
        'O\\\'Brien \\"x\\" a\\/b \\\\ \\n\\t \\u00E9 \\u2713 \\uD83D\\uDE00'
    )
    assert escape_java_script("\x01") == "\\u0001"


def test_json_path_and_params_of_the_template_input():
    document = {"a": {"b": [1, {"c": "d"}]}, "x-y": 2}
    assert json_path(document, "$.a.b[1].c") == "d"
    assert json_path(document, "$['x-y']") == 2
    assert json_path(document, "$.missing.c") is None
    with pytest.raises(ValueError, match="supports"):
        json_path(document, "$..c")
    given = TemplateInput("", {"header": {"idempotency-key": "k"}, "querystring": {"q": "1"}})
    assert given.params("Idempotency-Key") == "k"
    assert given.params("q") == "1"
    assert given.json("$") == "{}"
    context = {"responseOverride": {"status": None, "header": {}}}
    text = render(
        "#set($context.responseOverride.header.Retry-After = '3')$input.params('q')",
        input=given,
        context=context,
    )
    assert text == "1" and context["responseOverride"]["header"] == {"Retry-After": "3"}


def test_a_timed_out_execution_answers_504():
    context = {"responseOverride": {"status": None, "header": {}}}
    text = render(
        execution_response_template(StatusMap(), ReplayHeaders()),
        input=TemplateInput('{"status": "TIMED_OUT"}', {}),
        context=context,
    )
    assert context["responseOverride"]["status"] == 504
    assert json.loads(text) == {"status": "TIMED_OUT", "error": "", "cause": ""}
