"""The end of a failed execution that tells someone: send the error, then fail with it.

``FailureNotification`` sends it to an SNS topic; ``IdempotentQueue`` (Standard) sends it with
the message to the dead-letter queue. Both build the same two steps here: a task that sends
the caught error (with some details of the failed state's input), retried on its service's
transient errors, then a Fail state that ends the execution with the original error name and
cause, even when the sending itself failed.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from ..retry import RetryPolicy
from .jsonata_expressions import cause_of, jsonata


def failure_message(details: str) -> str:
    """JSONata (delimited) for the caught error merged into ``details``: the message to send.

    Parameters
    ----------
    details
        JSONata (without ``{% %}``) for an object, evaluated on the failed state's input.
    """
    return jsonata(
        f"$merge([{details}, {{'Error': $states.errorOutput.Error,"
        " 'Cause': $states.errorOutput.Cause}])"
    )


def send_then_fail(
    scope: Construct,
    send: sfn.TaskStateBase,
    *,
    retry: RetryPolicy,
    transient_errors: Sequence[str],
) -> sfn.Fail:
    """Chain ``send`` (which sends its input, the failure message) into a ``Failed`` state.

    ``send`` retries ``transient_errors`` with ``retry`` and must output its input; any error of
    its own still ends in ``Failed``, which fails with the ``Error`` and ``Cause`` it is given.

    Returns
    -------
    aws_cdk.aws_stepfunctions.Fail
        The ``Failed`` state, created in ``scope``.
    """
    failed = sfn.Fail.jsonata(
        scope,
        "Failed",
        error=jsonata("$states.input.Error"),
        cause=jsonata(cause_of("$states.input")),
    )
    retry.apply(send, transient_errors)
    send.add_catch(failed, errors=["States.ALL"], outputs=jsonata("$states.input"))
    send.next(failed)
    return failed
