"""moto with every completion of the local engine, for the duration of a ``with`` block.

``patched_moto`` starts moto's in-process AWS (state machines executed) and applies the
patches of this sub-room in order: each module lists its own (``patches``), built from moto's
attributes as they are at that point, so that a patch that wraps an attribute another one
replaced wraps the replacement (the task tokens' and SQS's error naming wrap the failure
events kept by ``interpreter``; ``interpreter``'s StopExecution wraps ``stopping``'s).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from ..moto_compat import (
    INTERPRETER_LOGGER,
    MockTestCase,
    StepFunctionsParserBackend,
    mock_aws_executing_state_machines,
    replace,
    wrap,
)
from . import (
    aws_semantics,
    callbacks,
    fast_paths,
    faults,
    interpreter,
    jsonata_fields,
    nested_executions,
    services,
    stopping,
    sync_execution,
)


def _starts(test_case_for: Callable[[str, str], MockTestCase]) -> list[Any]:
    """StartExecution and StartSyncExecution: input limit, JSON only, test case; names."""

    def checked(start: Callable[..., Any]) -> Callable[..., Any]:
        return interpreter.json_input_only(interpreter.input_length_limit(start))

    def start(original: Callable[..., Any]) -> Callable[..., Any]:
        started = interpreter.generated_name(checked(original))
        return faults.test_case_from_arn(started, test_case_for)

    start_sync = checked(sync_execution.start_sync_execution)
    return [
        wrap(StepFunctionsParserBackend, "start_execution", start),
        replace(
            StepFunctionsParserBackend,
            "start_sync_execution",
            faults.test_case_from_arn(start_sync, test_case_for),
        ),
    ]


@contextlib.contextmanager
def patched_moto(
    *,
    wait_scale: Callable[[], float],
    execution_ended: Callable[[str], None],
    test_case_for: Callable[[str, str], MockTestCase],
    wait_for_end: Callable[[str, float], bool],
    invoke: services.Invoke,
) -> Iterator[None]:
    """Start moto's in-process AWS with every completion applied; restore moto after.

    Parameters
    ----------
    wait_scale
        Returns the factor applied to every Wait state's duration (1.0 waits for real).
    execution_ended
        Called with an execution's ARN once its end (status, output or error) is recorded.
    test_case_for
        Returns the mocked responses (``faults``) of a test case, given the state machine ARN
        and the test case name; raises ``LookupError`` if there is no such test case.
    wait_for_end
        ``wait_for_end(execution_arn, timeout)`` blocks until the execution ends (``True``) or
        ``timeout`` seconds pass (``False``); a parent waits so for its child
        (``nested_executions``).
    invoke
        Runs the local function moto's Lambda backend is asked to invoke.
    """
    client_for = services.reused_clients()
    steps: list[Callable[[], list[Any]]] = [
        jsonata_fields.patches,
        interpreter.failure_event_patches,
        lambda: callbacks.patches(wait_scale),
        lambda: [services.sqs_error_names_patch()],
        stopping.patches,
        lambda: interpreter.patches(wait_scale, execution_ended),
        lambda: _starts(test_case_for),
        sync_execution.patches,
        lambda: services.patches(client_for, invoke),
        lambda: nested_executions.patches(wait_for_end, client_for),
        fast_paths.patches,
        interpreter.stop_patches,
        faults.patches,
        aws_semantics.patches,
    ]
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock_aws_executing_state_machines())
        # moto logs every failed state with its whole parse tree; the history says the same.
        interpreter_log = logging.getLogger(INTERPRETER_LOGGER)
        stack.callback(interpreter_log.setLevel, interpreter_log.level)
        interpreter_log.setLevel(logging.CRITICAL)
        for step in steps:
            for patcher in step():
                stack.enter_context(patcher)
        yield
