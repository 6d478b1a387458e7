"""Catch every error of a state: ``States.ALL`` alone does not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aws_cdk import aws_stepfunctions as sfn

#: Error lists that together catch every error: ``States.ALL`` does not match
#: ``States.DataLimitExceeded`` (an output over 256 KiB), which must be named on its own.
CATCH_ALL: Final = (("States.DataLimitExceeded",), ("States.ALL",))


def catch_every_error(
    state: sfn.TaskStateBase | sfn.Parallel | sfn.Map,
    handler: sfn.IChainable,
    *,
    assign: Mapping[str, Any] | None = None,
    outputs: Any = None,
) -> None:
    """Add the Catch clauses that send every error of ``state`` to ``handler``.

    Parameters
    ----------
    state
        A task, Parallel or Map state.
    handler
        Where the errors go.
    assign, outputs
        The JSONata ``Assign`` and ``Output`` of each Catch clause. Default: none.
    """
    for errors in CATCH_ALL:
        state.add_catch(handler, errors=list(errors), assign=assign, outputs=outputs)
