"""The library's pieces for durable flows: wait_for_callback, FailureNotification, retries.

Definitions are checked here; tests/test_order_flow.py runs them on the local engine.
"""

from __future__ import annotations

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from conftest import new_app, only_definition

from idempotent_workflows import (
    TRANSIENT_SNS_ERRORS,
    TRANSIENT_SQS_ERRORS,
    FailureNotification,
    RetryPolicy,
    wait_for_callback,
)

WAIT_FOR_TOKEN = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
#: Errors no transient-error retry may match: the answer, the time running out, anything.
NEVER_RETRIED = {"States.ALL", "States.TaskFailed", "States.Timeout"}


def machine(stack: Stack, chainable: sfn.IChainable) -> dict:
    sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(chainable),
        query_language=sfn.QueryLanguage.JSONATA,
    )
    return only_definition(stack)


def callback_stack() -> tuple[Stack, sqs.Queue]:
    stack = Stack(new_app(), "Callback")
    return stack, sqs.Queue(stack, "Queue")


def test_wait_for_callback_sends_the_token_and_waits_with_its_timeouts():
    stack, queue = callback_stack()
    task = wait_for_callback(
        stack,
        "Wait",
        queue=queue,
        message="{'Id': $states.input.Id}",
        timeout=Duration.hours(1),
        heartbeat=Duration.minutes(5),
        token_field="Token",
    )
    state = machine(stack, task)["States"]["Wait"]
    assert state["Resource"] == WAIT_FOR_TOKEN
    assert (state["TimeoutSeconds"], state["HeartbeatSeconds"]) == (3600, 300)
    body = state["Arguments"]["MessageBody"]
    assert body == (
        "{% $merge([{'Id': $states.input.Id}, {\"Token\": $states.context.Task.Token}]) %}"
    )
    # Only sending retries: a rejection, a timeout or a missed heartbeat is never retried.
    (retry,) = state["Retry"]
    assert retry["ErrorEquals"] == list(TRANSIENT_SQS_ERRORS)
    assert {"SQS.RequestThrottled", "SQS.SdkClientException"} <= set(retry["ErrorEquals"])
    assert not set(retry["ErrorEquals"]) & {*NEVER_RETRIED, "States.HeartbeatTimeout"}
    assert "Output" not in state


def test_wait_for_callback_without_heartbeat_and_with_its_own_retry():
    stack, queue = callback_stack()
    task = wait_for_callback(
        stack,
        "Wait",
        queue=queue,
        message="{}",
        timeout=Duration.days(7),
        outputs="$states.result.Shipment",
        retry=RetryPolicy.off(),
    )
    state = machine(stack, task)["States"]["Wait"]
    assert state["TimeoutSeconds"] == 7 * 86400 and "HeartbeatSeconds" not in state
    assert "Retry" not in state
    assert state["Output"] == "{% $states.result.Shipment %}"
    assert '"TaskToken": $states.context.Task.Token' in state["Arguments"]["MessageBody"]


@pytest.mark.parametrize(
    ("props", "error", "message"),
    [
        (
            {"timeout": 60},
            TypeError,
            r"timeout must be an aws_cdk.Duration.*Duration.seconds\(60\)",
        ),
        ({"timeout": None}, TypeError, r"timeout is required"),
        (
            {"timeout": Duration.millis(1500)},
            ValueError,
            r"timeout must be a whole number of seconds.*1500 ms",
        ),
        ({"timeout": Duration.days(400)}, ValueError, r"timeout must be at most 31536000 s"),
        ({"heartbeat": Duration.hours(1)}, ValueError, r"heartbeat \(3600 s\) must be shorter"),
        ({"queue": "arn:aws:sqs:queue"}, TypeError, r"queue must be an aws_sqs.IQueue"),
        ({"message": {"Id": 1}}, TypeError, r"message must be a str"),
        ({"retry": 3}, TypeError, r"retry must be a RetryPolicy"),
        ({"token_field": ""}, ValueError, r"token_field must not be empty"),
        ({"message": "{% {'Id': 1} %}"}, ValueError, r"message is a JSONata expression without"),
    ],
)
def test_wait_for_callback_refuses_bad_props_by_name(props, error, message):
    stack, queue = callback_stack()
    arguments = {"queue": queue, "message": "{}", "timeout": Duration.hours(1), **props}
    with pytest.raises(error, match=f"^wait_for_callback\\('Wait'\\): {message}"):
        wait_for_callback(stack, "Wait", **arguments)


def test_wait_for_callback_in_an_express_machine_fails_synthesis():
    """Step Functions refuses the definition only when it is deployed."""
    stack, queue = callback_stack()
    task = wait_for_callback(stack, "Wait", queue=queue, message="{}", timeout=Duration.hours(1))
    sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass.jsonata(stack, "A").next(task)),
        query_language=sfn.QueryLanguage.JSONATA,
        state_machine_type=sfn.StateMachineType.EXPRESS,
    )
    with pytest.raises(
        RuntimeError,
        match=r"wait_for_callback\('Wait'\): the state waits for a task token "
        r"\(.waitForTaskToken\), but it is in the EXPRESS state machine 'Callback/Machine'",
    ):
        stack.node.scope.synth()


def notified_stack() -> tuple[Stack, dict]:
    """First (not caught) -> Second (a Parallel whose branch fails with Boom)."""
    stack = Stack(new_app(), "Notified")
    topic = sns.Topic(stack, "Topic")
    notification = FailureNotification(
        stack, "Failure", topic=topic, subject="It failed", details="{'Id': $states.input.Id}"
    )
    first = sfn.Pass.jsonata(stack, "First")
    second = sfn.Parallel.jsonata(stack, "Second").branch(
        sfn.Fail.jsonata(stack, "Inner", error="Boom", cause="kaput")
    )
    notification.catch(second)
    return stack, machine(stack, first.next(second))


@pytest.mark.parametrize("topic_exists", [True, False])
def test_a_caught_error_is_published_and_ends_the_execution_with_its_name(
    local_engine, topic_exists
):
    stack, _ = notified_stack()
    deployed = local_engine.deploy(stack)
    if not topic_exists:  # the notification fails: the original error must still surface
        local_engine.sns.delete_topic(TopicArn=deployed.topic())
    execution = deployed.run({"Id": "i-1"})
    assert (execution.status, execution.error) == ("FAILED", "Boom")
    assert execution.cause == "kaput"
    if topic_exists:
        (published,) = deployed.published()
        assert published["Subject"] == "It failed"
        assert published["Message"] == {"Id": "i-1", "Error": "Boom", "Cause": "kaput"}
    else:
        assert execution.states_entered[-2:] == ["NotifyFailure", "Failed"]


def test_failure_notification_catches_every_error_and_fails_with_the_original():
    _, definition = notified_stack()
    states = definition["States"]
    catches = states["Second"]["Catch"]
    assert [(c["ErrorEquals"], c["Next"]) for c in catches] == [
        (["States.DataLimitExceeded"], "NotifyFailure"),
        (["States.ALL"], "NotifyFailure"),
    ]
    assert {c["Output"] for c in catches} == {
        "{% $merge([{'Id': $states.input.Id}, {'Error': $states.errorOutput.Error,"
        " 'Cause': $states.errorOutput.Cause}]) %}"
    }
    assert "Catch" not in states["First"]
    notify = states["NotifyFailure"]
    assert notify["Resource"] == "arn:aws:states:::sns:publish"
    assert notify["Arguments"]["Subject"] == "It failed"
    assert [r["ErrorEquals"] for r in notify["Retry"]] == [list(TRANSIENT_SNS_ERRORS)]
    assert "SNS.Throttled" in TRANSIENT_SNS_ERRORS
    assert not set(TRANSIENT_SNS_ERRORS) & {*NEVER_RETRIED, "SNS.NotFoundException"}
    assert notify["Next"] == "Failed" and notify["Catch"][0]["Next"] == "Failed"
    assert states["Failed"] == {
        "Type": "Fail",
        "Error": "{% $states.input.Error %}",
        "Cause": "{% $exists($states.input.Cause) ? $states.input.Cause : '(no cause given)' %}",
    }


def test_failure_notification_refuses_bad_props_by_name():
    stack = Stack(new_app(), "Bad")
    with pytest.raises(TypeError, match="FailureNotification: topic must be an aws_sns.ITopic"):
        FailureNotification(stack, "F", topic="arn:aws:sns:topic", subject="s")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="FailureNotification: details must be a str"):
        FailureNotification(
            stack,
            "G",
            topic=sns.Topic(stack, "T"),
            subject="s",
            details={"Id": 1},  # type: ignore[arg-type]
        )


@pytest.mark.parametrize("subject", ["", "Ordre échoué", "two\nlines", "x" * 100])
def test_failure_notification_refuses_a_subject_sns_would_refuse(subject):
    stack = Stack(new_app(), "Subject")
    with pytest.raises(ValueError, match="FailureNotification: subject must be one line"):
        FailureNotification(stack, "F", topic=sns.Topic(stack, "T"), subject=subject)


def test_retry_policy_refuses_one_error_name_given_as_a_string():
    stack, queue = callback_stack()
    task = wait_for_callback(stack, "W", queue=queue, message="{}", timeout=Duration.hours(1))
    with pytest.raises(TypeError, match=r"pass errors=\['SQS.Oops'\]"):
        RetryPolicy().apply(task, "SQS.Oops")


def test_retry_policy_serves_any_service_errors():
    stack = Stack(new_app(), "Retried")
    queue = sqs.Queue(stack, "Queue")
    send = wait_for_callback(
        stack,
        "Send",
        queue=queue,
        message="{}",
        timeout=Duration.minutes(1),
        retry=RetryPolicy(max_attempts=5, interval=Duration.seconds(2)),
    )
    (retry,) = machine(stack, send)["States"]["Send"]["Retry"]
    assert retry == {
        "ErrorEquals": list(TRANSIENT_SQS_ERRORS),
        "IntervalSeconds": 2,
        "MaxAttempts": 5,
        "BackoffRate": 2,
        "MaxDelaySeconds": 4,
        "JitterStrategy": "FULL",
    }
