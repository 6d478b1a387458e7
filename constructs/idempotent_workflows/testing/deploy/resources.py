"""Create a synthesized template's resources in the in-process AWS.

Tables, Lambda functions (run in-process, ``functions``), SQS queues, SNS topics and state
machines are created through the services' APIs, with every CloudFormation intrinsic of their
properties resolved (``template``) against the names ``naming`` gives. Other resources (roles,
policies, log groups, KMS keys) only get names and ARNs, so that references to them resolve.
State machines are created through the Step Functions API: the ones moto's CloudFormation
creates are invisible to its executing backend.

Queues and topics get the properties that change what they do locally (FIFO, delays,
visibility, dead-letter queues). Encryption settings (``KmsMasterKeyId``,
``SqsManagedSseEnabled``, a topic's master key) are left out: nothing is encrypted locally,
and the key a property names is not deployed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .functions import LocalFunction
from .naming import ACCOUNT, FUNCTION, QUEUE, STATE_MACHINE, TABLE, TOPIC, Names
from .stack import DeployedStack
from .template import Environment, resolve

if TYPE_CHECKING:
    from ..engine import LocalEngine

#: Queue properties that change what a local queue does (CreateQueue attributes of the same name).
_QUEUE_ATTRIBUTES: Final = (
    "ContentBasedDeduplication",
    "DelaySeconds",
    "FifoQueue",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)
_TOPIC_ATTRIBUTES: Final = ("ContentBasedDeduplication", "DisplayName", "FifoTopic")


def _as_text(value: Any) -> str:
    """A CloudFormation property as an SQS or SNS attribute value (``True`` is ``"true"``)."""
    return json.dumps(value) if isinstance(value, bool | dict) else str(value)


def _chosen(properties: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    return {name: _as_text(properties[name]) for name in names if name in properties}


def _create_queues(
    sqs: Any, env: Environment, queues: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """Create queues; return each one's URL by logical id."""
    urls = {
        logical_id: sqs.create_queue(
            QueueName=env.get_att(logical_id, "QueueName"),
            Attributes=_chosen(queue, _QUEUE_ATTRIBUTES),
        )["QueueUrl"]
        for logical_id, queue in queues.items()
    }
    # Once every queue exists: a dead-letter queue may come after its source in the template.
    for logical_id, queue in queues.items():
        if "RedrivePolicy" in queue:
            sqs.set_queue_attributes(
                QueueUrl=urls[logical_id],
                Attributes={"RedrivePolicy": _as_text(queue["RedrivePolicy"])},
            )
    return urls


def _create_topics(
    sns: Any, env: Environment, topics: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    """Create topics; return each one's ARN by logical id."""
    return {
        logical_id: sns.create_topic(
            Name=env.get_att(logical_id, "TopicName"),
            Attributes=_chosen(topic, _TOPIC_ATTRIBUTES),
        )["TopicArn"]
        for logical_id, topic in topics.items()
    }


def _create_table(dynamodb: Any, name: str, properties: Mapping[str, Any]) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=properties["KeySchema"],
        AttributeDefinitions=properties["AttributeDefinitions"],
        BillingMode=properties.get("BillingMode", "PAY_PER_REQUEST"),
    )
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)


class Deployer:
    """Deploys templates into one engine's in-process AWS.

    Parameters
    ----------
    region
        The region of the in-process AWS.

    Attributes
    ----------
    functions
        Every function deployed, by physical name (moto's Lambda invocations find them here).
    state_machines
        (logical id, ARN) of every state machine deployed, in order.
    """

    def __init__(self, region: str) -> None:
        self._names = Names(region)
        self.functions: dict[str, LocalFunction] = {}
        self.state_machines: list[tuple[str, str]] = []

    def deploy(
        self, template: dict[str, Any], *, stack_name: str, asset_dir: Path, engine: LocalEngine
    ) -> DeployedStack:
        """Create the template's resources through ``engine``'s clients; return what was made."""
        resources: dict[str, dict[str, Any]] = template.get("Resources", {})
        env = self._names.environment(stack_name, resources)
        properties = {
            logical_id: resolve(resource.get("Properties", {}), env)
            for logical_id, resource in resources.items()
            if resource["Type"] in (TABLE, FUNCTION, STATE_MACHINE, QUEUE, TOPIC)
        }

        def of_kind(kind: str) -> dict[str, dict[str, Any]]:
            return {
                logical_id: properties[logical_id]
                for logical_id, resource in resources.items()
                if resource["Type"] == kind
            }

        queues = _create_queues(engine.sqs, env, of_kind(QUEUE))
        topics = _create_topics(engine.sns, env, of_kind(TOPIC))
        tables = {logical_id: str(env.ref(logical_id)) for logical_id in of_kind(TABLE)}
        for logical_id, table in of_kind(TABLE).items():
            _create_table(engine.dynamodb, tables[logical_id], table)
        functions = {
            logical_id: self._create_function(logical_id, env, function, asset_dir)
            for logical_id, function in of_kind(FUNCTION).items()
        }
        machines = {
            logical_id: self._create_state_machine(engine.sfn, logical_id, env, machine)
            for logical_id, machine in of_kind(STATE_MACHINE).items()
        }
        return DeployedStack(
            stack_name,
            tables,
            functions,
            machines,
            engine,
            template=template,
            _environment=env,
            queues=queues,
            topics=topics,
        )

    def _create_function(
        self, logical_id: str, env: Environment, properties: dict[str, Any], asset_dir: Path
    ) -> LocalFunction:
        key = properties.get("Code", {}).get("S3Key", "")
        code_dir = asset_dir / f"asset.{key.removesuffix('.zip')}"
        if not code_dir.is_dir():
            raise FileNotFoundError(
                f"Function {logical_id}: no asset folder {code_dir}; the local engine runs "
                "functions whose code comes from a folder asset (Code.from_asset)."
            )
        name = str(env.ref(logical_id))
        function = LocalFunction(
            logical_id=logical_id,
            name=name,
            code_dir=code_dir,
            handler=properties["Handler"],
            environment=properties.get("Environment", {}).get("Variables", {}),
        )
        self.functions[name] = function
        return function

    def _create_state_machine(
        self, sfn: Any, logical_id: str, env: Environment, properties: dict[str, Any]
    ) -> str:
        arn: str = sfn.create_state_machine(
            name=str(env.ref(logical_id)).rsplit(":", 1)[-1],
            definition=properties["DefinitionString"],
            roleArn=properties.get("RoleArn", f"arn:aws:iam::{ACCOUNT}:role/local"),
            type=properties.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
        self.state_machines.append((logical_id, arn))
        return arn
