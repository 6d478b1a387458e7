"""The example stacks that ``app.py`` deploys: the demo, the router and the payments API."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

from aws_cdk import App, Duration, RemovalPolicy, Stack
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .. import (
    TRANSIENT_LAMBDA_ERRORS,
    IdempotencyKey,
    IdempotentApi,
    IdempotentWorkflow,
    RetryPolicy,
    TransactionRouter,
    handler_function,
)
from .order_flow import OrderFlowStack

#: cdk.json context key: the workflow types to deploy each example as.
WORKFLOW_TYPES_CONTEXT: Final = "idempotent-workflows:workflowTypes"
#: Environment variable of the random-failure function: the chance (0 to 1) that it fails.
FAILURE_RATE_VARIABLE: Final = "FAILURE_RATE"


def _with_step_result(n: int) -> str:
    """JSONata output of demo step ``n``: the results so far plus ``stepN``."""
    result = f"{{{json.dumps(f'step{n}')}: {{'result': {json.dumps(f'Output of step {n}')}}}}}"
    return "{% " + (result if n == 1 else f"$merge([$states.input, {result}])") + " %}"


class IdempotentWorkflowStack(Stack):
    """The classic idempotent-workflow demo: four steps and a step that fails at random.

    A successful run outputs ``{"step1": {"result": "Output of step 1"}, ..., "step4": {...},
    "randomFailureFunc": "All good"}``; a duplicate returns that same output without running
    the steps again, and a failed run is retried by the next execution with the same key.

    Parameters
    ----------
    scope
        Parent construct.
    id
        Stack id.
    workflow_type
        Standard or Express. Default ``StateMachineType.STANDARD``.
    key
        What identifies a duplicate. Default ``IdempotencyKey.whole_input()``.
    failure_rate
        Chance that the random-failure step fails, from ``"0"`` to ``"1"``. Default ``"0.5"``.
    removal_policy
        Removal policy of the table and log groups. Default ``DESTROY`` (an example).
    **kwargs
        Passed to ``Stack``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workflow_type: sfn.StateMachineType = sfn.StateMachineType.STANDARD,
        key: IdempotencyKey | None = None,
        failure_rate: str = "0.5",
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        random_failure = handler_function(
            self,
            "RandomFailureFunction",
            folder="random_failure",
            description="Fails at random, at the rate given by FAILURE_RATE",
            environment={FAILURE_RATE_VARIABLE: failure_rate},
            removal_policy=removal_policy,
        )
        steps = [
            sfn.Pass.jsonata(self, f"Step{n}", outputs=_with_step_result(n)) for n in range(1, 5)
        ]
        fail_at_random = tasks.LambdaInvoke.jsonata(
            self,
            "RandomFailure",
            lambda_function=random_failure,
            outputs="{% $merge([$states.input, {'randomFailureFunc': $states.result.Payload}]) %}",
        )
        work = sfn.Chain.start(steps[0])
        for step in [*steps[1:], fail_at_random]:
            work = work.next(step)
        self.workflow = IdempotentWorkflow(
            self,
            "Workflow",
            work=work,
            key=key,
            workflow_type=workflow_type,
            removal_policy=removal_policy,
        )


class TransactionStack(Stack):
    """The transaction router inside an idempotent workflow keyed by ``TransactionId``.

    A repeated transaction id is processed once: the purchase is charged once, however often
    the event arrives. A repeated id with another type or amount is refused
    (``Idempotency.PayloadMismatch``), not answered with the first transaction's receipt.
    Subclasses add transaction types by overriding :meth:`add_routes`, which runs before the
    workflow is built around the router.

    Parameters
    ----------
    scope
        Parent construct.
    id
        Stack id.
    workflow_type
        Standard or Express. Default ``StateMachineType.STANDARD``.
    payload_fields
        Fields that must match for a repeated ``TransactionId`` to be a duplicate. Default
        ``("TransactionType", "Amount")``.
    removal_policy
        Removal policy of the table and log groups. Default ``DESTROY`` (an example).
    **kwargs
        Passed to ``Stack``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workflow_type: sfn.StateMachineType = sfn.StateMachineType.STANDARD,
        payload_fields: Sequence[str] = ("TransactionType", "Amount"),
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.router = TransactionRouter(
            self,
            "Router",
            purchase_function=handler_function(
                self,
                "PurchaseFunction",
                folder="transactions",
                entry="purchase",
                description="Charges a PURCHASE transaction",
                removal_policy=removal_policy,
            ),
            refund_function=handler_function(
                self,
                "RefundFunction",
                folder="transactions",
                entry="refund",
                description="Refunds a REFUND transaction",
                removal_policy=removal_policy,
            ),
        )
        self.add_routes(self.router)
        self.workflow = IdempotentWorkflow(
            self,
            "Workflow",
            work=self.router,
            key=IdempotencyKey.from_fields("TransactionId"),
            payload_fields=payload_fields,
            workflow_type=workflow_type,
            removal_policy=removal_policy,
        )

    def add_routes(self, router: TransactionRouter) -> None:
        """Add routes beyond ``PURCHASE`` and ``REFUND``; override it in a subclass.

        Called once, after the two routes exist and before the workflow (and its state
        machine's permissions) is built, so every route added here is deployed. Default: none.

        Parameters
        ----------
        router
            The stack's router; call ``router.add_route(transaction_type, function)``.
        """


class PaymentsApiStack(Stack):
    """``POST /payments`` charged once per ``Idempotency-Key``: an HTTP API on Express.

    The body (``{"amount": 25, "currency": "EUR"}``) is charged by a Lambda function that
    answers a receipt; a retry with the same key returns the same receipt, the same key with
    another body is refused with 422. A created payment answers 201, a declined one
    (``PaymentDeclined``, over 10,000) 402, an invalid body (``InvalidPayment``) 400.

    Parameters
    ----------
    scope
        Parent construct.
    id
        Stack id.
    max_polls
        Polls of a request whose key another request holds, before 409. Default: the most
        that fit in API Gateway's 29 s.
    removal_policy
        Removal policy of the table and log groups. Default ``DESTROY`` (an example).
    **kwargs
        Passed to ``Stack``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        max_polls: int | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        charge = handler_function(
            self,
            "ChargeFunction",
            folder="payments",
            entry="charge",
            description="Charges the payment in a POST /payments body",
            removal_policy=removal_policy,
        )
        work = tasks.LambdaInvoke.jsonata(
            self,
            "Charge",
            lambda_function=charge,
            outputs="{% $states.result.Payload %}",
            retry_on_service_exceptions=False,
        )
        # Short retries (at most 1 + 2 s): the answer must reach the caller within 29 s.
        RetryPolicy(max_attempts=2, max_delay=Duration.seconds(2)).apply(
            work, TRANSIENT_LAMBDA_ERRORS
        )
        self.api = IdempotentApi(
            self,
            "Payments",
            work=work,
            path="payments",
            success_status=201,
            error_statuses={"PaymentDeclined": 402, "InvalidPayment": 400},
            max_polls=max_polls,
            lease=Duration.minutes(2),
            removal_policy=removal_policy,
        )


def workflow_types(app: App) -> list[sfn.StateMachineType]:
    """The workflow types named by the ``idempotent-workflows:workflowTypes`` context.

    Raises
    ------
    ValueError
        If the context names something other than ``STANDARD`` or ``EXPRESS``.
    """
    names = app.node.try_get_context(WORKFLOW_TYPES_CONTEXT) or ["STANDARD", "EXPRESS"]
    if isinstance(names, str):
        names = [name.strip() for name in names.split(",")]
    unknown = [name for name in names if name not in sfn.StateMachineType.__members__]
    if unknown or not names:
        raise ValueError(
            f"Context {WORKFLOW_TYPES_CONTEXT} must list STANDARD and/or EXPRESS, got {names!r}: "
            f"for example cdk synth -c {WORKFLOW_TYPES_CONTEXT}=EXPRESS."
        )
    return [sfn.StateMachineType[name] for name in names]


def add_example_stacks(
    app: App, types: Iterable[sfn.StateMachineType] | None = None
) -> list[Stack]:
    """Add both examples, once per workflow type, to ``app`` (no account or region needed).

    Stacks are named ``IdempotentWorkflow<Type>`` and ``Transaction<Type>``, for example
    ``IdempotentWorkflowStandard`` and ``TransactionExpress``, plus ``PaymentsApi`` (always
    Express: a synchronous HTTP API) and ``OrderFlow`` (always Standard: it waits for a
    callback).
    """
    stacks: list[Stack] = []
    for workflow_type in types if types is not None else workflow_types(app):
        suffix = workflow_type.name.capitalize()
        stacks.append(
            IdempotentWorkflowStack(app, f"IdempotentWorkflow{suffix}", workflow_type=workflow_type)
        )
        stacks.append(TransactionStack(app, f"Transaction{suffix}", workflow_type=workflow_type))
    stacks.append(PaymentsApiStack(app, "PaymentsApi"))
    stacks.append(OrderFlowStack(app, "OrderFlow"))
    return stacks
