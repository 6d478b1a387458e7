"""``idempotent-workflows``: the console script that shows a key's record and releases it.

::

    idempotent-workflows show    (--state-machine ARN [--protocol N] | --table NAME)
                                 (--key RECORD_ID | --input JSON) [--json]
    idempotent-workflows release (same) --reason TEXT [--holder ARN]

``--state-machine`` reads the workflow from its deployed definition (``DescribeStateMachine``):
its table, and the key rule that turns ``--input`` into the record id. ``release`` reads the
record, prints it, and releases it only if it is still that record (``IdempotencyRecords``);
with ``--holder``, only if the holder is also the one you saw. ``--endpoint-url`` and
``--region`` reach a local emulator. Needs boto3 (``pip install 'idempotent-workflows[runtime]'``).

Exit status: 0 done, 1 no such record, 2 usage, 3 the record changed (nothing released),
4 the record holds no lock (nothing released).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, Final

from .description import WorkflowDescription
from .hashing import InvalidKeyError
from .operator import IdempotencyRecords, KeyRecord, NotStuck, RecordChanged

EXIT_NOT_FOUND: Final = 1
EXIT_USAGE: Final = 2
EXIT_CHANGED: Final = 3
EXIT_NOT_STUCK: Final = 4


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_mutually_exclusive_group(required=True)
    where.add_argument("--state-machine", metavar="ARN", help="the workflow's state machine")
    where.add_argument("--table", metavar="NAME", help="the records' table (with --key only)")
    common.add_argument(
        "--protocol",
        type=int,
        default=0,
        metavar="N",
        help="which protocol of the state machine, outermost first (default 0)",
    )
    which = common.add_mutually_exclusive_group(required=True)
    which.add_argument("--key", metavar="RECORD_ID", help="the record id (<namespace>#<sha256>)")
    which.add_argument("--input", metavar="JSON", help="an execution input: its key's record")
    common.add_argument("--endpoint-url", metavar="URL", help="a local emulator's endpoint")
    common.add_argument("--region", help="the AWS region (default: boto3's)")
    common.add_argument("--json", action="store_true", help="print the record as JSON")
    parser = argparse.ArgumentParser(
        prog="idempotent-workflows",
        description="Show an idempotency record; release a stuck lock safely.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("show", parents=[common], help="show a key's record")
    release = commands.add_parser(
        "release",
        parents=[common],
        help="release a stuck lock (only while the record is the one shown)",
    )
    release.add_argument("--reason", required=True, help="why, kept in the released record")
    release.add_argument("--holder", metavar="ARN", help="release only if this execution holds it")
    return parser


def _print(record: KeyRecord, as_json: bool) -> None:
    print(json.dumps(record.to_json()) if as_json else record.describe())


def _records(arguments: argparse.Namespace, boto3: Any) -> IdempotencyRecords:
    clients = {"region_name": arguments.region, "endpoint_url": arguments.endpoint_url}
    dynamodb = boto3.client("dynamodb", **clients)
    if arguments.table is not None:
        return IdempotencyRecords(dynamodb, arguments.table)
    workflows = WorkflowDescription.describe(
        arguments.state_machine, boto3.client("stepfunctions", **clients)
    )
    if not 0 <= arguments.protocol < len(workflows):
        raise LookupError(
            f"{arguments.state_machine} holds {len(workflows)} idempotency protocol(s): pass "
            f"--protocol 0 to {len(workflows) - 1}, got {arguments.protocol}."
        )
    return IdempotencyRecords.of(workflows[arguments.protocol], dynamodb)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the console script with ``argv`` (default: the command line); return its status."""
    parser = _parser()
    arguments = parser.parse_args(argv)
    if arguments.input is not None and arguments.table is not None:
        parser.error("--input needs --state-machine, which holds the key rule")
    try:
        import boto3
    except ImportError:
        parser.error("boto3 is missing: pip install 'idempotent-workflows[runtime]'")
    try:
        records = _records(arguments, boto3)
        key = arguments.key or records.record_id(json.loads(arguments.input))
    except (LookupError, ValueError, InvalidKeyError) as error:
        parser.error(str(error))
    shown = records.show(key)
    if shown is None:
        print(f"No record {key} in table {records.table_name}.", file=sys.stderr)
        return EXIT_NOT_FOUND
    _print(shown, arguments.json)
    if arguments.command == "show":
        return 0
    if arguments.holder is not None and shown.holder != arguments.holder:
        print(
            f"Not released: {key} is held by {shown.holder}, not {arguments.holder}.",
            file=sys.stderr,
        )
        return EXIT_CHANGED
    try:
        released = records.release(shown, reason=arguments.reason)
    except RecordChanged as error:
        print(f"Not released: {error}", file=sys.stderr)
        return EXIT_CHANGED
    except NotStuck as error:
        print(f"Not released: {error}", file=sys.stderr)
        return EXIT_NOT_STUCK
    print("Released:", file=sys.stderr)
    _print(released, arguments.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
