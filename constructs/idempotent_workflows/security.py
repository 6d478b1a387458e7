"""cdk-nag findings that these constructs raise by design, and one call to acknowledge them.

Each acknowledgment lands on the narrowest construct (the IAM policy or Lambda function the
finding names), with ids computed from the constructs themselves, and only while the finding
is the expected one: a wildcard statement with any other action is left for cdk-nag to report.
"""

from __future__ import annotations

from typing import Any, Final, cast

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import IConstruct

from .api import IdempotentApi

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

UNSCOPED_REASON: Final = (
    "Resource '*' only for X-Ray tracing and CloudWatch Logs delivery actions, which have no "
    "resource-level permissions; every other action in this policy names its resource."
)
FUNCTION_VERSIONS_REASON: Final = (
    "The state machine may invoke versions and aliases (ARN:*) of this one function, which it "
    "invokes by design; no other function matches."
)
DLQ_REASON: Final = (
    "Invoked synchronously by a Step Functions state machine, whose task retries and catches "
    "its errors (and records them, inside the idempotency protocol); a DLQ only applies to "
    "asynchronous invocations."
)

EXECUTION_LOGGING_REASON: Final = (
    "Access logs (JSON, every standard field) are on for the stage; execution logging needs "
    "the account-wide API Gateway CloudWatch role (AWS::ApiGateway::Account), a per-account "
    "setting that one construct must not take over."
)
IAM_AUTHORIZATION_REASON: Final = (
    "The method requires IAM (SigV4) authorization, which callers in other services and "
    "accounts sign with their own roles; a Cognito user pool serves end users, not them."
)
WAF_REASON: Final = (
    "The API is regional, IAM-authorized and throttled per stage; a WAFv2 web ACL holds "
    "account-specific rules (IP sets, rate rules) and is associated at deployment."
)

DEAD_LETTER_REASON: Final = (
    "This queue is another queue's dead-letter queue: messages land here after their last "
    "delivery, for people to inspect; a dead-letter queue of its own would only move them "
    "again."
)


def _acknowledge_dead_letters(queue: sqs.Queue) -> list[str]:
    """Serverless-SQSRedrivePolicy on the dead-letter queue of ``queue``, if it has one."""
    if queue.dead_letter_queue is None:
        return []
    resource = _resource(queue.dead_letter_queue.queue)
    Validations.of(resource).acknowledge(
        Acknowledgment(id="Serverless::Serverless-SQSRedrivePolicy", reason=DEAD_LETTER_REASON)
    )
    return [resource.node.path]


def _acknowledge_api(api: IdempotentApi) -> list[str]:
    """APIG6 and APIG3 on the stage, COG4 on the IAM-authorized method."""
    stage = _resource(api.api.deployment_stage)
    Validations.of(stage).acknowledge(
        Acknowledgment(id="AwsSolutions::AwsSolutions-APIG6", reason=EXECUTION_LOGGING_REASON),
        Acknowledgment(id="AwsSolutions::AwsSolutions-APIG3", reason=WAF_REASON),
    )
    method = _resource(api.method)
    Validations.of(method).acknowledge(
        Acknowledgment(id="AwsSolutions::AwsSolutions-COG4", reason=IAM_AUTHORIZATION_REASON)
    )
    return [stage.node.path, method.node.path]


def acknowledge_findings(scope: IConstruct) -> list[str]:
    """Acknowledge the expected cdk-nag findings of the workflows in ``scope``.

    Call it once, after building the app and before ``app.synth()``. Covers the role of each
    state machine (an ``IdempotentWorkflow``'s or one that embeds an ``IdempotencyProtocol``
    or other states: X-Ray and log-delivery wildcards, versions of the functions it invokes)
    and each Lambda function a state machine invokes (no DLQ under synchronous invocation;
    X-Ray wildcard). Each acknowledgment is made only while the finding is exactly the
    expected one; functions no state machine invokes are left alone. For
    each ``IdempotentApi``: execution logging and WAF on its stage (APIG6, APIG3) and the
    Cognito authorizer on its IAM-authorized method (COG4). For each queue with a dead-letter
    queue (an ``IdempotentQueue``'s, or any made by ``queue_with_dead_letters``): no redrive
    policy on the dead-letter queue itself (Serverless-SQSRedrivePolicy).

    Parameters
    ----------
    scope
        The app, a stack or any construct containing workflows.

    Returns
    -------
    list of str
        The construct paths that received acknowledgments.
    """
    functions = {
        (Stack.of(function), _logical_id(function)): function
        for function in scope.node.find_all()
        if isinstance(function, lambda_.Function)
    }
    acknowledged: list[str] = []
    for construct in scope.node.find_all():
        if isinstance(construct, IdempotentApi):
            acknowledged += _acknowledge_api(construct)
        elif isinstance(construct, sqs.Queue):
            acknowledged += _acknowledge_dead_letters(construct)
    for state_machine in scope.node.find_all():
        if not isinstance(state_machine, sfn.StateMachine):
            continue
        statements = _statements(state_machine.role)
        invoked = _invoked_function_ids(statements)
        acks = [
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]",
                reason=FUNCTION_VERSIONS_REASON,
            )
            for logical_id in invoked
        ]
        acknowledged += _acknowledge(state_machine.role, statements, acks)
        for logical_id in invoked:
            function = functions.get((Stack.of(state_machine), logical_id))
            if function is None:
                continue
            acknowledged += _acknowledge(function.role, _statements(function.role), [])
            resource = _resource(function)
            Validations.of(resource).acknowledge(
                Acknowledgment(id="Serverless::Serverless-LambdaDLQ", reason=DLQ_REASON)
            )
            acknowledged.append(resource.node.path)
    return acknowledged


def _acknowledge(
    role: iam.IRole | None, statements: list[dict[str, Any]], extra: list[Acknowledgment]
) -> list[str]:
    """Acknowledge ``extra`` and, if every wildcard action is unscoped by nature, IAM5 on *."""
    policy = _default_policy(role)
    if policy is None:
        return []
    acks = list(extra)
    wildcard_actions = {
        action
        for statement in statements
        if statement.get("Resource") == "*"
        for action in _as_list(statement["Action"])
    }
    if wildcard_actions and wildcard_actions <= UNSCOPED_ACTIONS:
        acks.append(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]", reason=UNSCOPED_REASON
            )
        )
    if not acks:
        return []
    resource = _resource(policy)
    Validations.of(resource).acknowledge(*acks)
    return [resource.node.path]


def _default_policy(role: iam.IRole | None) -> iam.Policy | None:
    """The policy that grants add to a role created in this app, if it has one."""
    policy = role.node.try_find_child("DefaultPolicy") if role is not None else None
    return cast(iam.Policy, policy) if policy is not None else None


def _resource(construct: IConstruct) -> CfnResource:
    """The CloudFormation resource of an L2 construct, where cdk-nag reports findings."""
    return cast(CfnResource, construct.node.default_child)


def _statements(role: iam.IRole | None) -> list[dict[str, Any]]:
    policy = _default_policy(role)
    if policy is None:
        return []
    document = Stack.of(policy).resolve(policy.document.to_json())
    return cast(list[dict[str, Any]], document.get("Statement", []))


def _invoked_function_ids(statements: list[dict[str, Any]]) -> list[str]:
    """Logical ids of the functions whose ``ARN:*`` the statements allow to invoke."""
    ids: list[str] = []
    for statement in statements:
        if "lambda:InvokeFunction" not in _as_list(statement["Action"]):
            continue
        for resource in _as_list(statement["Resource"]):
            parts = resource.get("Fn::Join", ["", []])[1] if isinstance(resource, dict) else []
            if len(parts) == 2 and parts[1] == ":*" and "Fn::GetAtt" in parts[0]:
                ids.append(parts[0]["Fn::GetAtt"][0])
    return ids


def _logical_id(function: lambda_.Function) -> str:
    return cast(str, Stack.of(function).resolve(_resource(function).logical_id))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
