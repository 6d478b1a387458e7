"""``TransactionRouter``: a Choice that sends each transaction type to its own handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import jsii
from aws_cdk import IStableStringProducer, Lazy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct, IValidation

from .errors import IdempotencyError
from .private.checks import check_interface
from .private.jsonata_expressions import jsonata, literal
from .retry import TRANSIENT_LAMBDA_ERRORS, RetryPolicy

#: Input field the router chooses on.
_TYPE_FIELD: Final = "TransactionType"
_OWNER: Final = "TransactionRouter"


def _check_function(prop: str, function: Any) -> None:
    check_interface(
        _OWNER,
        prop,
        function,
        members=("function_arn", "grant_invoke"),
        expected="an aws_lambda.IFunction",
        fix="pass a lambda_.Function or lambda_.Function.from_function_arn(...)",
    )


@jsii.implements(IStableStringProducer)
class _Produce:
    """A string computed at synth time, after every route was added."""

    def __init__(self, produce: Callable[[], str]) -> None:
        self._produce = produce

    def produce(self) -> str:
        return self._produce()


class TransactionRouter(sfn.StateMachineFragment):
    """Choice on the input's ``TransactionType``: each type runs its own Lambda function.

    ``PURCHASE`` and ``REFUND`` are routed when their functions are given; callers add more
    types with :meth:`add_route`, and subclasses in their constructor. Every Lambda task retries
    Lambda service errors with backoff and catches everything else, failing with the handler's
    own error name. An absent or unknown type ends in ``Transaction.UnknownType``, whose cause
    lists the accepted types.

    Parameters
    ----------
    scope
        Parent construct.
    id
        Construct id.
    purchase_function
        Handler of ``PURCHASE`` transactions. Default: no ``PURCHASE`` route.
    refund_function
        Handler of ``REFUND`` transactions. Default: no ``REFUND`` route.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        purchase_function: lambda_.IFunction | None = None,
        refund_function: lambda_.IFunction | None = None,
    ) -> None:
        _check_function("purchase_function", purchase_function)
        _check_function("refund_function", refund_function)
        super().__init__(scope, id)
        self._routes: dict[str, sfn.INextable] = {}
        self._failed = sfn.Fail.jsonata(
            self,
            "TransactionFailed",
            error=jsonata("$states.input.Error"),
            cause=jsonata("$states.input.Cause"),
        )
        unknown = sfn.Fail.jsonata(
            self,
            "UnknownTransactionType",
            error=IdempotencyError.UNKNOWN_TRANSACTION_TYPE.value,
            cause=Lazy.string(_Produce(self._unknown_type_cause)),
        )
        self._choice = sfn.Choice.jsonata(self, "RouteByTransactionType").otherwise(unknown)
        if purchase_function is not None:
            self.add_route("PURCHASE", purchase_function)
        if refund_function is not None:
            self.add_route("REFUND", refund_function)
        self.node.add_validation(_HasRoutes(self))

    def add_route(self, transaction_type: str, function: lambda_.IFunction) -> sfn.INextable:
        """Send transactions of ``transaction_type`` to ``function``; its result is the output.

        Parameters
        ----------
        transaction_type
            The exact value of ``TransactionType`` (case-sensitive).
        function
            The Lambda function that processes the transaction; it receives the whole input.

        Returns
        -------
        aws_stepfunctions.INextable
            The Lambda task, for callers that want to chain after this route only.

        Raises
        ------
        ValueError
            If the type is not a non-empty string or already has a route.
        """
        if function is None:
            raise TypeError(f"{_OWNER}.add_route: function is required, got None.")
        _check_function("function", function)
        if not isinstance(transaction_type, str) or not transaction_type.strip():
            raise ValueError(
                f"{_OWNER}.add_route: transaction_type must be a non-empty string, got "
                f"{transaction_type!r}: pass the exact value of {_TYPE_FIELD}, such as 'REFUND'."
            )
        if transaction_type in self._routes:
            raise ValueError(
                f"{_OWNER}.add_route: TransactionType {transaction_type!r} already has a route: "
                "each type routes to one function."
            )
        task = tasks.LambdaInvoke.jsonata(
            self,
            f"Process{_pascal(transaction_type)}",
            lambda_function=function,
            retry_on_service_exceptions=False,
            outputs=jsonata("$states.result.Payload"),
        )
        RetryPolicy().apply(task, TRANSIENT_LAMBDA_ERRORS)
        task.add_catch(self._failed, errors=["States.ALL"], outputs=jsonata("$states.errorOutput"))
        self._choice.when(
            sfn.Condition.jsonata(
                jsonata(f"$states.input.{_TYPE_FIELD} = {literal(transaction_type)}")
            ),
            task,
        )
        self._routes[transaction_type] = task
        return task

    @property
    def transaction_types(self) -> list[str]:
        """The routed transaction types, in the order they were added."""
        return list(self._routes)

    @property
    def start_state(self) -> sfn.State:
        """The Choice state."""
        return self._choice

    @property
    def end_states(self) -> list[sfn.INextable]:
        """The Lambda tasks of every route."""
        return list(self._routes.values())

    def _unknown_type_cause(self) -> str:
        accepted = ", ".join(self._routes)
        return jsonata(
            f"'Unsupported {_TYPE_FIELD} ' & "
            f"$substring($string($states.input.{_TYPE_FIELD}), 0, 200)"
            f" & {literal(f'; accepted types: {accepted}.')}"
        )


@jsii.implements(IValidation)
class _HasRoutes:
    """Deferred check: a router must route at least one type by synth time."""

    def __init__(self, router: TransactionRouter) -> None:
        self._router = router

    def validate(self) -> list[str]:
        if self._router.transaction_types:
            return []
        return [
            "TransactionRouter has no routes: pass purchase_function or refund_function, "
            "or call add_route(transaction_type, function)."
        ]


def _pascal(transaction_type: str) -> str:
    """``"PURCHASE"`` -> ``"Purchase"``; non-alphanumeric characters are dropped."""
    words = "".join(c if c.isalnum() else " " for c in transaction_type).split()
    return "".join(word.capitalize() for word in words) or "Route"
