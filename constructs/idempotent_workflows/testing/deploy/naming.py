"""Physical names, ARNs and references of a template's resources, as CloudFormation gives them.

CloudFormation names a resource after its stack and logical id; the engine does the same, so
that every ``Ref`` and ``Fn::GetAtt`` of the template resolves (``template.Environment``),
also for resources it does not create (roles, policies, log groups, KMS keys).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

from .template import Environment

#: The account of the in-process AWS (moto's default).
ACCOUNT: Final = "123456789012"
TABLE: Final = "AWS::DynamoDB::Table"
FUNCTION: Final = "AWS::Lambda::Function"
STATE_MACHINE: Final = "AWS::StepFunctions::StateMachine"
QUEUE: Final = "AWS::SQS::Queue"
TOPIC: Final = "AWS::SNS::Topic"


def _fifo_name(kind: str, name: str, properties: Mapping[str, Any]) -> str:
    """FIFO queues and topics end in ``.fifo``."""
    fifo = properties.get("FifoQueue" if kind == QUEUE else "FifoTopic") is True
    return f"{name}.fifo" if kind in (QUEUE, TOPIC) and fifo else name


def _attributes(kind: str, ref: str, arn: str) -> dict[str, str]:
    """The ``Fn::GetAtt`` attributes of a queue or a topic besides ``Arn``."""
    name = arn.rsplit(":", 1)[-1]
    if kind == QUEUE:
        return {"QueueName": name, "QueueUrl": ref}
    return {"TopicName": name, "TopicArn": ref} if kind == TOPIC else {}


class Names:
    """Names the resources of the templates deployed in one engine, each name once.

    Parameters
    ----------
    region
        The region of the in-process AWS.
    """

    def __init__(self, region: str) -> None:
        self.region = region
        self._used = Counter[str]()

    def environment(
        self, stack_name: str, resources: Mapping[str, Mapping[str, Any]]
    ) -> Environment:
        """Where a template's resources are deployed: each one's Ref, ARN and attributes."""
        refs, arns = {}, {}
        for logical_id, resource in resources.items():
            refs[logical_id], arns[logical_id] = self._physical_ids(
                stack_name, logical_id, resource
            )
        return Environment(
            stack_name=stack_name,
            region=self.region,
            account=ACCOUNT,
            refs=refs,
            arns=arns,
            attributes={
                logical_id: _attributes(resource["Type"], refs[logical_id], arns[logical_id])
                for logical_id, resource in resources.items()
            },
        )

    def _physical_ids(
        self, stack_name: str, logical_id: str, resource: Mapping[str, Any]
    ) -> tuple[str, str]:
        """(Ref value, ARN) of a resource, as CloudFormation would name it."""
        kind = resource["Type"]
        name = f"{stack_name}-{logical_id}"[:64]
        self._used[name] += 1
        if self._used[name] > 1:  # the same stack deployed twice in one engine
            name = f"{name[:58]}-{self._used[name]}"
        name = _fifo_name(kind, name, resource.get("Properties", {}))
        region, service = self.region, kind.split("::")[1].lower()
        arns = {
            TABLE: f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}",
            FUNCTION: f"arn:aws:lambda:{region}:{ACCOUNT}:function:{name}",
            STATE_MACHINE: f"arn:aws:states:{region}:{ACCOUNT}:stateMachine:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{name}:*",
        }
        arn = arns.get(kind, f"arn:aws:{service}:{region}:{ACCOUNT}:{name}")
        refs = {
            QUEUE: f"https://sqs.{region}.amazonaws.com/{ACCOUNT}/{name}",
            TOPIC: arn,
            STATE_MACHINE: arn,
        }
        return refs.get(kind, name), arn
