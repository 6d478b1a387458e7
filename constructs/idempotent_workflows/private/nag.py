"""cdk-nag acknowledgments: recorded on the CloudFormation resource a finding names.

Each construct acknowledges its own findings (``IdempotentApi`` its stage and method,
``queue_with_dead_letters`` its dead-letter queue); ``acknowledge_findings`` covers the roles
of state machines, which only the finished app can tell. An acknowledgment is construct
metadata: it leaves the template unchanged and matters only to a cdk-nag run.
"""

from __future__ import annotations

from typing import Final, cast

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

#: Actions granted on ``"*"`` because IAM offers no resource-level permission for them.
UNSCOPED_ACTIONS: Final = frozenset(
    {
        # X-Ray tracing (Lambda `Tracing.ACTIVE`, state machine `tracing_enabled`): trace
        # segments, telemetry and sampling rules belong to no resource ARN.
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        # Step Functions execution logging: CloudWatch Logs "vended" log deliveries and the log
        # resource policy are account-level objects; these actions accept only "*".
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)

#: The rule packs of ``cdk_nag`` that the findings belong to, by rule id prefix.
_PACKS: Final = {"AwsSolutions-": "AwsSolutions", "Serverless-": "Serverless"}


def resource_of(construct: IConstruct) -> CfnResource:
    """The CloudFormation resource of an L2 construct, where cdk-nag reports findings."""
    return cast(CfnResource, construct.node.default_child)


def acknowledge(construct: IConstruct, reasons: dict[str, str]) -> str:
    """Acknowledge each rule (``"AwsSolutions-APIG6"``: reason) on ``construct``'s resource.

    Returns
    -------
    str
        The path of the resource that received the acknowledgments.
    """
    resource = resource_of(construct)
    Validations.of(resource).acknowledge(
        *(
            Acknowledgment(id=f"{_pack(rule)}::{rule}", reason=reason)
            for rule, reason in reasons.items()
        )
    )
    return resource.node.path


def _pack(rule: str) -> str:
    return next(pack for prefix, pack in _PACKS.items() if rule.startswith(prefix))
