"""Type checks of the props that ``IdempotencyProtocol`` and ``IdempotentWorkflow`` share.

Both call them with their own name, so a user reads the construct they called in the error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_stepfunctions as sfn

from .jsonata_work import check_jsonata_work
from .key import IdempotencyKey, check_field_paths
from .retry import RetryPolicy
from .table import IdempotencyTable
from .validation import check_duration, check_instance, check_interface, fail


def as_table(owner: str, table: Any) -> dynamodb.ITable:
    """The ``ITable`` for a ``table`` prop: an ``ITable`` itself, or an ``IdempotencyTable``'s."""
    if isinstance(table, IdempotencyTable):
        return table.table
    if table is None:
        raise fail(owner, "table", "given", table, "pass IdempotencyTable(scope, 'Records')")
    check_interface(
        owner,
        "table",
        table,
        members=("table_name", "table_arn", "grant_read_write_data"),
        expected="an aws_dynamodb.ITable or an IdempotencyTable",
        fix="pass IdempotencyTable(...).table, dynamodb.Table(...) or Table.from_table_name(...)",
    )
    return table  # type: ignore[no-any-return]


def check_protocol_props(
    owner: str,
    *,
    work: Any,
    key: Any,
    key_namespace: Any,
    durations: Mapping[str, Any],
    max_polls: Any,
    workflow_type: Any,
    dynamodb_retry: Any,
    payload_fields: Any,
) -> None:
    """Check the types of the protocol's props, naming ``owner``, the prop and the fix.

    ``IdempotentWorkflow`` calls it too, so that its users read its own name in the error.
    """
    check_jsonata_work(owner, work)
    key_fix = (
        f"pass IdempotencyKey.from_fields({key!r})"
        if isinstance(key, str)
        else "pass IdempotencyKey.whole_input(), .from_fields(...) or .from_input_jmespath()"
    )
    check_instance(owner, "key", key, IdempotencyKey, key_fix)
    for prop, duration in durations.items():
        check_duration(owner, prop, duration)
    check_instance(owner, "key_namespace", key_namespace, str, "pass a string or omit it")
    if max_polls is not None and (not isinstance(max_polls, int) or isinstance(max_polls, bool)):
        raise fail(owner, "max_polls", "an int", max_polls, "pass a whole number of polls")
    check_instance(
        owner,
        "workflow_type",
        workflow_type,
        sfn.StateMachineType,
        "pass sfn.StateMachineType.STANDARD or sfn.StateMachineType.EXPRESS",
    )
    check_instance(
        owner,
        "dynamodb_retry",
        dynamodb_retry,
        RetryPolicy,
        "pass RetryPolicy(max_attempts=...) or RetryPolicy.off()",
    )
    if isinstance(payload_fields, str):
        raise fail(
            owner,
            "payload_fields",
            "a sequence of field paths",
            payload_fields,
            f"pass payload_fields=[{payload_fields!r}]",
        )
    check_field_paths(f"{owner} payload_fields", tuple(payload_fields))
