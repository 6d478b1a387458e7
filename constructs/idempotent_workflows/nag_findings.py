"""``acknowledge_findings``: the cdk-nag findings of state machine roles, acknowledged.

A state machine's role and the functions it invokes raise findings by design (X-Ray and
log-delivery wildcards, function versions, no DLQ for synchronous invocations) that only the
finished app can tell: routes and grants are added after the constructs are built, and the
state machine may be the user's own. Each acknowledgment lands on the narrowest construct (the
IAM policy or Lambda function the finding names), with ids computed from the constructs
themselves, and only while the finding is the expected one: a wildcard statement with any other
action is left for cdk-nag to report. The other constructs acknowledge their own findings when
they are built (``IdempotentApi``, ``queue_with_dead_letters``).
"""

from __future__ import annotations

from typing import Any, Final, cast

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import IConstruct

from .private.nag import UNSCOPED_ACTIONS, acknowledge, resource_of

_UNSCOPED_REASON: Final = (
    "Resource '*' only for X-Ray tracing and CloudWatch Logs delivery actions, which have no "
    "resource-level permissions; every other action in this policy names its resource."
)
_FUNCTION_VERSIONS_REASON: Final = (
    "The state machine may invoke versions and aliases (ARN:*) of this one function, which it "
    "invokes by design; no other function matches."
)
_DLQ_REASON: Final = (
    "Invoked synchronously by a Step Functions state machine, whose task retries and catches "
    "its errors (and records them, inside the idempotency protocol); a DLQ only applies to "
    "asynchronous invocations."
)


def acknowledge_findings(scope: IConstruct) -> list[str]:
    """Acknowledge the expected cdk-nag findings of the state machines in ``scope``.

    Call it once, after building the app and before ``app.synth()``. Covers the role of each
    state machine (an ``IdempotentWorkflow``'s, or your own that embeds an
    ``IdempotencyProtocol`` or other states: X-Ray and log-delivery wildcards, versions of the
    functions it invokes) and each Lambda function a state machine invokes (no DLQ under
    synchronous invocation; X-Ray wildcard). Each acknowledgment is made only while the finding
    is exactly the expected one; functions no state machine invokes are left alone.
    ``IdempotentApi`` and ``queue_with_dead_letters`` acknowledge their own findings when they
    are built.

    Parameters
    ----------
    scope
        The app, a stack or any construct containing state machines.

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
    for state_machine in scope.node.find_all():
        if not isinstance(state_machine, sfn.StateMachine):
            continue
        statements = _statements(state_machine.role)
        invoked = _invoked_function_ids(statements)
        versions = {
            f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>:*]": _FUNCTION_VERSIONS_REASON
            for logical_id in invoked
        }
        acknowledged += _acknowledge_policy(state_machine.role, statements, versions)
        for logical_id in invoked:
            function = functions.get((Stack.of(state_machine), logical_id))
            if function is None:
                continue
            acknowledged += _acknowledge_policy(function.role, _statements(function.role), {})
            acknowledged.append(acknowledge(function, {"Serverless-LambdaDLQ": _DLQ_REASON}))
    return acknowledged


def _acknowledge_policy(
    role: iam.IRole | None, statements: list[dict[str, Any]], reasons: dict[str, str]
) -> list[str]:
    """Acknowledge ``reasons`` and, if every wildcard action is unscoped by nature, IAM5 on *."""
    policy = _default_policy(role)
    if policy is None:
        return []
    wildcard_actions = {
        action
        for statement in statements
        if statement.get("Resource") == "*"
        for action in _as_list(statement["Action"])
    }
    if wildcard_actions and wildcard_actions <= UNSCOPED_ACTIONS:
        reasons = {**reasons, "AwsSolutions-IAM5[Resource::*]": _UNSCOPED_REASON}
    return [acknowledge(policy, reasons)] if reasons else []


def _default_policy(role: iam.IRole | None) -> iam.Policy | None:
    """The policy that grants add to a role created in this app, if it has one."""
    policy = role.node.try_find_child("DefaultPolicy") if role is not None else None
    return cast(iam.Policy, policy) if policy is not None else None


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
    return cast(str, Stack.of(function).resolve(resource_of(function).logical_id))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
