"""The order flow: a durable Standard workflow composed from the library's pieces.

The whole flow runs inside an ``IdempotencyProtocol`` keyed on the order id (``Order``
namespace), so a duplicated order, concurrent or later, gets the first one's outcome and
ships once: ``ValidateOrder`` (a Lambda function, retried with backoff) → ``ChargePayment``
(the charge, inside its own protocol, ``Payment`` namespace, so that a retry after a later
failure does not charge again) → ``ReserveItems`` (a Map over the line items with a
concurrency limit; each line reserved once per order, keyed ``OrderId#line``) →
``WaitForWarehouse`` (a task token sent to the warehouse queue; the execution sleeps until the
warehouse answers). Every state's errors go to ``NotifyFailure`` (an SNS message), which ends
the execution with the original error.
"""

from __future__ import annotations

import json
from typing import Any, Final

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .. import (
    FailureNotification,
    IdempotencyKey,
    IdempotencyProtocol,
    IdempotencyTable,
    errors_as,
    execution_logs,
    handler_function,
    queue_with_dead_letters,
    wait_for_callback,
)

#: Errors of the order itself: retrying them cannot help.
INVALID_ORDER: Final = "InvalidOrder"
#: Default limit on line items reserved at once, so the stock service is not stampeded.
DEFAULT_MAX_CONCURRENCY: Final = 5
#: Default longest wait for the warehouse's answer, and for a heartbeat of the warehouse.
DEFAULT_WAREHOUSE_TIMEOUT: Final = Duration.hours(2)
DEFAULT_WAREHOUSE_HEARTBEAT: Final = Duration.minutes(10)
#: Field of the warehouse's message that carries the task token.
TOKEN_FIELD: Final = "TaskToken"
#: How much longer than the warehouse's longest wait an order's lock is honoured: the
#: validation, the charge and the reservations before it.
ORDER_LEASE_MARGIN: Final = Duration.minutes(15)
#: How long an order's outcome answers its duplicates, counted from the end of its lease.
ORDER_RECORD_TTL_MARGIN: Final = Duration.days(1)
#: Wait between two reads of an order held by another execution. Each poll costs 3 state
#: transitions; a shorter wait answers a concurrent duplicate sooner and costs more.
ORDER_POLL_INTERVAL: Final = Duration.minutes(1)


def _longer(duration: Any, than: Duration) -> bool:
    """Whether ``duration`` (a prop, maybe of the wrong type) is a Duration longer than ``than``."""
    return isinstance(duration, Duration) and duration.to_milliseconds() > than.to_milliseconds()


def _merged(field: str, value: str) -> str:
    """JSONata (without ``{% %}``) for the state's input with ``field`` set to ``value``."""
    return f"$merge([$states.input, {{{json.dumps(field)}: {value}}}])"


class OrderFlowStack(Stack):
    """A durable order flow that ships each order once: validate, charge, reserve, wait.

    Input: ``{"OrderId": "o-1", "Currency": "EUR", "Items": [{"Sku": "A-1", "Quantity": 2,
    "Price": 10}]}``. Output: the validated order (with ``Total``) plus ``Payment`` (the
    receipt), ``Reservations`` (one per line item) and ``Shipment`` (the warehouse's answer).

    - The whole flow runs at most once per ``OrderId`` at a time (``order_protocol``): a
      duplicate gets the first execution's output, waits for it while it runs (polls a
      minute apart), or is refused when its ``Currency`` or ``Items`` differ
      (``Idempotency.PayloadMismatch``); after a failure the order runs again.
    - ``ValidateOrder`` retries ``States.TaskFailed`` 3 times, 2, 4 and 8 s apart, but never
      an ``InvalidOrder``.
    - ``ChargePayment`` charges ``Total`` at most once per ``OrderId``: a retried or duplicated
      order gets the first charge's receipt; the same id with another total or currency is
      refused (``Idempotency.PayloadMismatch``).
    - ``ReserveItems`` reserves at most ``max_concurrency`` line items at a time, each line
      once per order (:attr:`reservations`, keyed ``OrderId#line``): a run again after a
      failure gets the first reservation back; another SKU or quantity on a reserved line
      fails with ``ReservationConflict``.
    - ``WaitForWarehouse`` sends ``{"OrderId", "Reservations", "TaskToken"}`` to
      :attr:`warehouse_queue` and waits for ``SendTaskSuccess`` (its output is the shipment),
      ``SendTaskFailure``, a missed heartbeat or the timeout.
    - ``NotifyFailure`` publishes ``{"OrderId", "Error", "Cause"}`` to :attr:`failure_topic`.

    Parameters
    ----------
    scope
        Parent construct.
    id
        Stack id.
    max_concurrency
        Line items reserved at once. Default 5.
    warehouse_timeout
        Longest wait for the warehouse's answer. Default 2 hours.
    warehouse_heartbeat
        Longest silence of the warehouse between heartbeats, shorter than
        ``warehouse_timeout``. Default 10 minutes (none with a ``warehouse_timeout`` of 10
        minutes or less).
    removal_policy
        Removal policy of the table, log groups and queues. Default ``DESTROY`` (an example).
    **kwargs
        Passed to ``Stack``.

    Attributes
    ----------
    warehouse_queue : aws_sqs.Queue
        Where the warehouse reads its work, each message with a task token.
    failure_topic : aws_sns.Topic
        Where failed orders are announced.
    state_machine : aws_stepfunctions.StateMachine
        The flow.
    order_protocol : IdempotencyProtocol
        The protocol around the whole flow (key ``OrderId``, lease ``warehouse_timeout``
        plus 15 minutes, outcome kept a day longer).
    reservations : aws_dynamodb.ITable
        One item per reserved order line.

    Raises
    ------
    TypeError
        If a prop has the wrong type (the message names the prop and what to pass).
    ValueError
        If ``max_concurrency`` is below 1, a warehouse duration is not whole seconds from 1 s
        (the timeout up to a year), or the heartbeat is not shorter than the timeout.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        warehouse_timeout: Duration | None = None,
        warehouse_heartbeat: Duration | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        **kwargs: Any,
    ) -> None:
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int):
            raise TypeError(
                f"OrderFlowStack: max_concurrency must be a whole number, got "
                f"{max_concurrency!r}: pass for example max_concurrency=5."
            )
        if max_concurrency < 1:
            raise ValueError(
                f"OrderFlowStack: max_concurrency must be at least 1, got {max_concurrency}: "
                "the Map's 0 means no limit, which is what this prop is here to prevent."
            )
        timeout = warehouse_timeout or DEFAULT_WAREHOUSE_TIMEOUT
        heartbeat = warehouse_heartbeat
        if heartbeat is None and _longer(timeout, DEFAULT_WAREHOUSE_HEARTBEAT):
            heartbeat = DEFAULT_WAREHOUSE_HEARTBEAT
        super().__init__(scope, id, **kwargs)
        self._removal_policy = removal_policy
        with errors_as("OrderFlowStack"):
            self.warehouse_queue, _ = queue_with_dead_letters(
                self, "WarehouseQueue", "WarehouseDeadLetters", removal_policy=removal_policy
            )
        with errors_as(
            "OrderFlowStack", timeout="warehouse_timeout", heartbeat="warehouse_heartbeat"
        ):
            wait = wait_for_callback(
                self,
                "WaitForWarehouse",
                queue=self.warehouse_queue,
                message=(
                    "{'OrderId': $states.input.OrderId, 'Reservations': $states.input.Reservations}"
                ),
                timeout=timeout,
                heartbeat=heartbeat,
                token_field=TOKEN_FIELD,
                outputs=_merged("Shipment", "$states.result"),
            )
        self._table = IdempotencyTable(self, "Payments", removal_policy=removal_policy)
        self.reservations = IdempotencyTable(
            self, "Reservations", removal_policy=removal_policy
        ).table
        self.failure_topic = sns.Topic(
            self,
            "OrderFailures",
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
            enforce_ssl=True,
        )
        failure = FailureNotification(
            self,
            "Failure",
            topic=self.failure_topic,
            subject="Order failed",
            details="{'OrderId': $states.input.OrderId}",
        )
        validate = self._validate_order()
        charge = self._charge_payment()
        reserve = self._reserve_items(max_concurrency)
        failure.catch(validate, charge, reserve, wait)
        lease = timeout.plus(ORDER_LEASE_MARGIN)
        self.order_protocol = IdempotencyProtocol(
            self,
            "OrderProtocol",
            work=validate.next(charge).next(reserve).next(wait),
            table=self._table,
            key=IdempotencyKey.from_fields("OrderId"),
            key_namespace="Order",
            payload_fields=("Currency", "Items"),
            lease=lease,
            record_ttl=lease.plus(ORDER_RECORD_TTL_MARGIN),
            poll_interval=ORDER_POLL_INTERVAL,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(self.order_protocol),
            query_language=sfn.QueryLanguage.JSONATA,
            state_machine_type=sfn.StateMachineType.STANDARD,
            logs=execution_logs(self, removal_policy=removal_policy),
            tracing_enabled=True,
        )

    def _invoke(
        self,
        name: str,
        entry: tuple[str, str],
        description: str,
        payload: sfn.TaskInput | None = None,
        environment: dict[str, str] | None = None,
    ) -> tuple[tasks.LambdaInvoke, lambda_.IFunction]:
        """Task ``name`` that invokes a new function ``<name>Function``; outputs its answer.

        ``entry`` is ``(folder, module)``: the handler in ``lambdas/<folder>/<module>.py``.
        Returns the task and its function.
        """
        folder, module = entry
        function = handler_function(
            self,
            f"{name}Function",
            folder=folder,
            entry=module,
            description=description,
            environment=environment,
            removal_policy=self._removal_policy,
        )
        task = tasks.LambdaInvoke.jsonata(
            self,
            name,
            lambda_function=function,
            payload=payload,
            outputs="{% $states.result.Payload %}",
        )
        return task, function

    def _validate_order(self) -> tasks.LambdaInvoke:
        task, _ = self._invoke(
            "ValidateOrder", ("orders", "validate"), "Validates and prices an order"
        )
        # The first matching retrier decides: an invalid order is never retried.
        task.add_retry(errors=[INVALID_ORDER], max_attempts=0)
        task.add_retry(
            errors=["States.TaskFailed"],
            interval=Duration.seconds(2),
            max_attempts=3,
            backoff_rate=2,
        )
        return task

    def _charge_payment(self) -> sfn.Parallel:
        """The charge inside its own protocol, wrapped so that its errors are caught.

        The order's protocol runs the flow again after a failure (a warehouse rejection, say);
        this one keeps the charge to one per order across those runs. Nested in the order's,
        it has its own state names, variables and key namespace.
        """
        body = {"amount": "{% $states.input.Total %}", "currency": "{% $states.input.Currency %}"}
        charge, _ = self._invoke(
            "Charge",
            ("payments", "charge"),
            "Charges the total of an order",
            sfn.TaskInput.from_object({"body": body}),
        )
        protocol = IdempotencyProtocol(
            self,
            "PaymentProtocol",
            work=charge,
            table=self._table,
            key=IdempotencyKey.from_fields("OrderId"),
            key_namespace="Payment",
            payload_fields=("Total", "Currency"),
            variable_prefix="payment",
        )
        protocol.prefix_states("Payment")
        return sfn.Parallel.jsonata(
            self, "ChargePayment", outputs="{% " + _merged("Payment", "$states.result[0]") + " %}"
        ).branch(protocol)

    def _reserve_items(self, max_concurrency: int) -> sfn.Map:
        reserve, function = self._invoke(
            "ReserveItem",
            ("orders", "reserve"),
            "Reserves one line item in stock, once per order and line",
            environment={"RESERVATIONS_TABLE": self.reservations.table_name},
        )
        self.reservations.grant(function, "dynamodb:UpdateItem")
        reservations = sfn.Map.jsonata(
            self,
            "ReserveItems",
            items=sfn.ProvideItems.jsonata("{% $states.input.Items %}"),
            item_selector={
                "OrderId": "{% $states.input.OrderId %}",
                "Item": "{% $states.context.Map.Item.Value %}",
                "Line": "{% $states.context.Map.Item.Index %}",
            },
            max_concurrency=max_concurrency,
            outputs="{% " + _merged("Reservations", "$states.result") + " %}",
        )
        return reservations.item_processor(reserve)
