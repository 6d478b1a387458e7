"""Queues and topics on the local engine, each checked on a small state machine."""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from conftest import new_app


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


def caught(stack: Stack, name: str) -> sfn.Pass:
    return sfn.Pass.jsonata(stack, name, outputs="{% $states.input %}")


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
