"""Task tokens, queues and topics on the local engine, each checked on a small state machine.

A "warehouse" here is the test itself: it takes the message a task sent to a queue, reads the
task token from the body and answers through the Step Functions API, as a worker would.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from aws_cdk import Duration, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from botocore.exceptions import ClientError
from conftest import new_app

from idempotent_workflows.testing import LocalEngine
from idempotent_workflows.testing.moto_compat import AmazonStateLanguageParser

TOKEN = "{% $states.context.Task.Token %}"
#: A waiting task's timings in state machine seconds, and the engine's scale in these tests: a
#: heartbeat window of 20 s lasts 0.4 s, the task's timeout of 60 s lasts 1.2 s.
HEARTBEAT, TIMEOUT, SCALE = 20, 60, 0.02


def machine(stack: Stack, start: sfn.IChainable) -> sfn.StateMachine:
    return sfn.StateMachine(
        stack,
        "Machine",
        definition_body=sfn.DefinitionBody.from_chainable(start),
        query_language=sfn.QueryLanguage.JSONATA,
    )


def warehouse_queue(stack: Stack) -> sqs.Queue:
    """An encrypted queue with an encrypted dead-letter queue, as cdk-nag asks for."""
    dead_letters = sqs.Queue(stack, "DeadLetters", encryption=sqs.QueueEncryption.SQS_MANAGED)
    return sqs.Queue(
        stack,
        "Warehouse",
        encryption=sqs.QueueEncryption.KMS_MANAGED,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=3),
    )


def reserve(stack: Stack, queue: sqs.IQueue, **timings: sfn.Timeout) -> tasks.SqsSendMessage:
    """Send the order and the task token to the queue, then wait for the token's answer."""
    return tasks.SqsSendMessage.jsonata(
        stack,
        "Reserve",
        queue=queue,
        message_body=sfn.TaskInput.from_object({"token": TOKEN, "order": "{% $states.input %}"}),
        integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        **timings,
    )


def caught(stack: Stack, name: str) -> sfn.Pass:
    return sfn.Pass.jsonata(stack, name, outputs="{% $states.input %}")


def seconds(value: int) -> sfn.Timeout:
    return sfn.Timeout.duration(Duration.seconds(value))


#: The timings of a task that sends heartbeats and may run for TIMEOUT seconds.
TIMED = {"heartbeat_timeout": seconds(HEARTBEAT), "task_timeout": seconds(TIMEOUT)}


def warehouse_stack(name: str, **timings: sfn.Timeout) -> Stack:
    """Reserve, with a Catch per way of failing: a missed heartbeat, a timeout, a refusal."""
    stack = Stack(new_app(), name)
    task = reserve(stack, warehouse_queue(stack), **timings)
    task.add_catch(caught(stack, "MissedHeartbeat"), errors=[sfn.Errors.HEARTBEAT_TIMEOUT])
    task.add_catch(caught(stack, "TimedOut"), errors=[sfn.Errors.TIMEOUT])
    task.add_catch(caught(stack, "OutOfStock"), errors=["Warehouse.OutOfStock"])
    machine(stack, task)
    return stack


def only_token(deployed, order) -> str:
    """The token of the one message on the warehouse queue, checking it carries the order."""
    (body,) = deployed.receive("Warehouse")
    assert body["order"] == order
    token: str = body["token"]
    return token


def refusal(call, **arguments) -> str:
    """The error code Step Functions answers a call with."""
    with pytest.raises(ClientError) as refused:
        call(**arguments)
    code: str = refused.value.response["Error"]["Code"]
    return code


def events(execution, kind: str) -> list[dict]:
    key = kind[0].lower() + kind[1:] + "EventDetails"
    return [event[key] for event in execution.history if event["type"] == kind]


def test_queues_and_topics_deploy_with_the_references_cloudformation_gives(local_engine):
    stack = Stack(new_app(), "Messaging")
    queue = warehouse_queue(stack)
    fifo = sqs.Queue(stack, "Ordered", fifo=True, encryption=sqs.QueueEncryption.KMS_MANAGED)
    topic = sns.Topic(stack, "Alerts", master_key=kms.Key(stack, "AlertsKey"))
    references = {
        "url": queue.queue_url,
        "arn": queue.queue_arn,
        "name": queue.queue_name,
        "fifo": fifo.queue_name,
        "topic": topic.topic_arn,
        "topicName": topic.topic_name,
    }
    machine(stack, sfn.Pass.jsonata(stack, "References", outputs=references))
    deployed = local_engine.deploy(stack)
    output = deployed.run().output

    assert output["url"] == deployed.queue("Warehouse")
    assert output["url"] == local_engine.sqs.get_queue_url(QueueName=output["name"])["QueueUrl"]
    attributes = local_engine.sqs.get_queue_attributes(
        QueueUrl=output["url"], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["QueueArn"] == output["arn"]
    dead_letters = local_engine.sqs.get_queue_attributes(
        QueueUrl=deployed.queue("DeadLetters"), AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dead_letters,
        "maxReceiveCount": 3,
    }
    assert output["fifo"].endswith(".fifo")
    ordered = local_engine.sqs.get_queue_attributes(
        QueueUrl=deployed.queue("Ordered"), AttributeNames=["FifoQueue"]
    )
    assert ordered["Attributes"]["FifoQueue"] == "true"
    assert output["topic"] == deployed.topic()
    listed = [topic["TopicArn"] for topic in local_engine.sns.list_topics()["Topics"]]
    assert listed == [output["topic"]]
    assert output["topic"].endswith(f":{output['topicName']}")


def test_a_waiting_task_resumes_with_the_output_sent_for_its_token(local_engine):
    deployed = local_engine.deploy(warehouse_stack("Resumed"))
    execution = deployed.start({"sku": 42})
    token = only_token(deployed, {"sku": 42})
    local_engine.sfn.send_task_success(taskToken=token, output=json.dumps({"reserved": 42}))

    assert execution.wait(timeout=5).status == "SUCCEEDED"
    assert execution.output == {"reserved": 42}
    assert [json.loads(e["output"]) for e in events(execution, "TaskSucceeded")] == [
        {"reserved": 42}
    ]
    (submitted,) = events(execution, "TaskSubmitted")
    assert submitted["resource"] == "sendMessage.waitForTaskToken"
    assert "MessageId" in json.loads(submitted["output"])
    left = local_engine.sqs.get_queue_attributes(
        QueueUrl=deployed.queue("Warehouse"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert set(left.values()) == {"0"}  # the message was received and deleted


def test_a_failure_sent_for_a_token_reaches_the_catch_with_its_error_and_cause(local_engine):
    deployed = local_engine.deploy(warehouse_stack("Refused"))
    execution = deployed.start({"sku": 7})
    token = only_token(deployed, {"sku": 7})
    local_engine.sfn.send_task_failure(
        taskToken=token, error="Warehouse.OutOfStock", cause="sku 7: none left"
    )

    assert execution.wait(timeout=5).states_entered == ["Reserve", "OutOfStock"]
    assert execution.output == {"Error": "Warehouse.OutOfStock", "Cause": "sku 7: none left"}
    (failed,) = events(execution, "TaskFailed")
    assert (failed["error"], failed["cause"]) == ("Warehouse.OutOfStock", "sku 7: none left")


def test_late_unknown_and_malformed_answers_are_refused_as_step_functions_refuses_them(
    local_engine,
):
    deployed = local_engine.deploy(warehouse_stack("Answers"))
    execution = deployed.start({"sku": 1})
    token = only_token(deployed, {"sku": 1})
    sfn_api = local_engine.sfn

    assert refusal(sfn_api.send_task_success, taskToken=token, output="{not json") == (
        "InvalidOutput"
    )
    sfn_api.send_task_heartbeat(taskToken=token)  # accepted, though the task has no heartbeat
    sfn_api.send_task_success(taskToken=token, output="{}")
    assert execution.wait(timeout=5).status == "SUCCEEDED"

    assert refusal(sfn_api.send_task_success, taskToken=token, output="{}") == "TaskTimedOut"
    assert refusal(sfn_api.send_task_failure, taskToken=token, error="Late") == "TaskTimedOut"
    assert refusal(sfn_api.send_task_heartbeat, taskToken=token) == "TaskTimedOut"
    assert refusal(sfn_api.send_task_success, taskToken="no-such-token", output="{}") == (
        "InvalidToken"
    )


def beat_until_ended(engine: LocalEngine, token: str, execution) -> None:
    """Send a heartbeat every quarter of the heartbeat window until the execution ends."""
    while True:
        try:
            execution.wait(timeout=HEARTBEAT * SCALE / 4)
            return
        except TimeoutError:
            try:
                engine.sfn.send_task_heartbeat(taskToken=token)
            except ClientError as late:  # the task timed out since: the execution ends now
                assert late.response["Error"]["Code"] == "TaskTimedOut"


def test_heartbeats_keep_a_waiting_task_without_a_timeout_alive_until_its_answer(local_engine):
    local_engine.wait_scale = SCALE
    deployed = local_engine.deploy(warehouse_stack("Alive", heartbeat_timeout=seconds(HEARTBEAT)))
    execution = deployed.start({"sku": 2})
    token = only_token(deployed, {"sku": 2})
    beats = 14  # one every quarter window: 70 scaled seconds in all
    for _ in range(beats):
        time.sleep(HEARTBEAT * SCALE / 4)
        local_engine.sfn.send_task_heartbeat(taskToken=token)
    local_engine.sfn.send_task_success(taskToken=token, output='{"reserved": 2}')

    assert execution.wait(timeout=5).status == "SUCCEEDED"
    assert execution.output == {"reserved": 2}
    (scheduled,) = events(execution, "TaskScheduled")
    assert scheduled["heartbeatInSeconds"] == HEARTBEAT


def test_a_task_with_a_heartbeat_and_no_timeout_may_wait_as_long_as_in_step_functions(
    local_engine,
):
    """Not 60 real seconds (the States Language default moto applied): 99,999,999 s."""
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "HeartbeatSeconds": 5,
        "Arguments": {"QueueUrl": "q", "MessageBody": "m"},
        "End": True,
    }
    definition = {"QueryLanguage": "JSONata", "StartAt": "T", "States": {"T": task}}
    (program, *_) = AmazonStateLanguageParser.parse(json.dumps(definition))
    assert program.states.states["T"].timeout.timeout_seconds == 99_999_999


def test_a_missed_heartbeat_times_the_task_out_on_the_scaled_clock(local_engine):
    local_engine.wait_scale = SCALE
    deployed = local_engine.deploy(warehouse_stack("Missed", **TIMED))
    started = time.monotonic()
    execution = deployed.start({"sku": 3})
    token = only_token(deployed, {"sku": 3})

    # The Catch on States.HeartbeatTimeout took it, not the one on States.Timeout.
    assert execution.wait(timeout=5).states_entered == ["Reserve", "MissedHeartbeat"]
    assert HEARTBEAT * SCALE <= time.monotonic() - started
    # Recorded as Step Functions records it; only the Catch tells a heartbeat from a timeout.
    assert [e["error"] for e in events(execution, "TaskTimedOut")] == ["States.Timeout"]
    assert execution.output["Error"] == "States.Timeout"
    assert refusal(local_engine.sfn.send_task_heartbeat, taskToken=token) == "TaskTimedOut"


def test_a_waiting_task_past_its_timeout_fails_however_many_heartbeats(local_engine):
    local_engine.wait_scale = SCALE
    # A window of 3/4 of the timeout, beaten every 0.1 s: a pause of a busy machine between
    # two beats must not pass for a missed heartbeat.
    heartbeat = TIMEOUT * 3 // 4
    deployed = local_engine.deploy(
        warehouse_stack(
            "Expired", heartbeat_timeout=seconds(heartbeat), task_timeout=seconds(TIMEOUT)
        )
    )
    started = time.monotonic()
    execution = deployed.start({"sku": 4})
    beat_until_ended(local_engine, only_token(deployed, {"sku": 4}), execution)

    assert execution.wait(timeout=5).states_entered == ["Reserve", "TimedOut"]
    assert TIMEOUT * SCALE <= time.monotonic() - started < 5
    assert [e["error"] for e in events(execution, "TaskTimedOut")] == ["States.Timeout"]
    (scheduled,) = events(execution, "TaskScheduled")
    assert (scheduled["heartbeatInSeconds"], scheduled["timeoutInSeconds"]) == (heartbeat, TIMEOUT)


def test_stopping_an_execution_ends_its_wait_for_a_token(local_engine):
    deployed = local_engine.deploy(warehouse_stack("Stopped"))
    execution = deployed.start({"sku": 5})
    token = only_token(deployed, {"sku": 5})
    local_engine.sfn.stop_execution(executionArn=execution.arn, error="Cancelled", cause="test")

    assert execution.wait(timeout=2).status == "ABORTED"
    recorded = [event["type"] for event in execution.history]
    assert recorded[recorded.index("TaskSubmitted") + 1 :] == ["ExecutionAborted"]
    assert refusal(local_engine.sfn.send_task_success, taskToken=token, output="{}") == (
        "TaskTimedOut"
    )


def test_closing_the_engine_stops_an_execution_that_waits_for_a_token():
    threads = threading.active_count()
    with LocalEngine() as engine:
        deployed = engine.deploy(warehouse_stack("Closed"))
        execution = deployed.start({"sku": 6})
        only_token(deployed, {"sku": 6})
        closing = time.monotonic()
    assert time.monotonic() - closing < 5  # the engine waits up to 30 s for executions to end
    assert engine._completions.wait(execution.arn, 0)
    gone = time.monotonic() + 2  # no thread is left waiting for the token
    while threading.active_count() > threads and time.monotonic() < gone:
        time.sleep(0.01)
    assert threading.active_count() <= threads


def test_a_publication_is_recorded_with_its_subject_and_attributes(local_engine):
    stack = Stack(new_app(), "Publisher")
    topic = sns.Topic(stack, "Failures", master_key=kms.Key(stack, "FailuresKey"))
    publish = tasks.SnsPublish.jsonata(
        stack,
        "Publish",
        topic=topic,
        message=sfn.TaskInput.from_object({"failed": "{% $states.input.order %}"}),
        subject="Order failed",
        message_attributes={"kind": tasks.MessageAttribute(value="stock")},
    )
    machine(stack, publish)
    deployed = local_engine.deploy(stack)
    execution = deployed.run({"order": "o-1"})

    assert deployed.published() == [
        {
            "MessageId": execution.output["MessageId"],
            "Message": {"failed": "o-1"},
            "Subject": "Order failed",
            "MessageAttributes": {"kind": {"Type": "String", "Value": "stock"}},
        }
    ]


def test_failed_sqs_and_sns_calls_are_named_as_step_functions_names_them(local_engine):
    stack = Stack(new_app(), "Unreachable")
    ordered = sqs.Queue(stack, "Ordered", fifo=True)
    deleted_queue = sqs.Queue(stack, "DeletedQueue")
    deleted_topic = sns.Topic(stack, "DeletedTopic")
    no_group = tasks.SqsSendMessage.jsonata(
        stack, "NoGroup", queue=ordered, message_body=sfn.TaskInput.from_text("x")
    )
    missing_queue = tasks.SqsSendMessage.jsonata(
        stack, "MissingQueue", queue=deleted_queue, message_body=sfn.TaskInput.from_text("x")
    )
    missing_topic = tasks.SnsPublish.jsonata(
        stack, "MissingTopic", topic=deleted_topic, message=sfn.TaskInput.from_text("x")
    )
    branches = sfn.Parallel.jsonata(stack, "Calls", outputs="{% $states.result %}")
    for task in (no_group, missing_queue, missing_topic):
        task.add_catch(caught(stack, f"{task.node.id}Failed"))
        branches.branch(task)
    machine(stack, branches)
    deployed = local_engine.deploy(stack)
    local_engine.sqs.delete_queue(QueueUrl=deployed.queue("DeletedQueue"))
    local_engine.sns.delete_topic(TopicArn=deployed.topic())

    errors = [(output["Error"], output["Cause"]) for output in deployed.run().output]
    assert [error for error, _ in errors] == [
        "SQS.AmazonSQSException",  # recorded by Step Functions for a missing parameter
        "SQS.QueueDoesNotExistException",
        "SNS.NotFoundException",
    ]
    assert errors[0][1].startswith(
        "The request must contain the parameter MessageGroupId. (Service: AmazonSQS; "
        "Status Code: 400; Error Code: MissingParameter; Request ID: "
    )
