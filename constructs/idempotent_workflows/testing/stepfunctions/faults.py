"""Fault injection: Step Functions Local's mock configuration, understood by the local engine.

A mock configuration names, per state machine, test cases; a test case maps state names to
mocked responses; a mocked response maps tries (``"0"``, ``"1-2"``) to a ``Return`` (the
service's response, in place of the call) or a ``Throw`` (``Error`` and ``Cause``, as the
service's error). An execution runs under one test case, chosen when it starts. moto's
interpreter (ported from LocalStack) already evaluates such responses; this module reads the
configuration into moto's classes and holds the small patches that select a test case per
execution. Unlike Step Functions Local, a try past the last numbered one calls the (local)
service, so ``{"0-1": {"Throw": ...}}`` reads "the first two attempts fail".
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ..moto_compat import (
    BackendExecution,
    Environment,
    InvalidName,
    MockedResponse,
    MockedResponseReturn,
    MockedResponseThrow,
    MockTestCase,
    StateMockedResponses,
    SyncExecution,
    replace,
    set_test_case,
    wrap,
)

#: A mock configuration: the parsed JSON, or the path of a JSON file.
MockConfigSource = Mapping[str, Any] | str | os.PathLike[str]


def _tries(key: str) -> tuple[int, int]:
    """First and last try (counted from 0) of a mocked response key: ``"0"`` or ``"1-2"``."""
    first, _, last = key.partition("-")
    try:
        return int(first), int(last or first)
    except ValueError:
        raise ValueError(
            f"Mocked response key {key!r}: expected a try number such as '0' or a range such "
            "as '1-2'"
        ) from None


def _response(name: str, key: str, entry: Mapping[str, Any]) -> MockedResponse:
    first, last = _tries(key)
    if set(entry) == {"Return"}:
        return MockedResponseReturn(first, last, payload=entry["Return"])
    if set(entry) == {"Throw"} and "Error" in entry["Throw"]:
        throw = entry["Throw"]
        return MockedResponseThrow(first, last, error=throw["Error"], cause=throw.get("Cause", ""))
    raise ValueError(
        f"Mocked response {name!r}, try {key!r}: expected either "
        '{"Return": <response>} or {"Throw": {"Error": ..., "Cause": ...}}, '
        f"got {json.dumps(entry)[:200]}"
    )


class MockConfig:
    """A mock configuration in the shape of Step Functions Local's ``MockConfigFile.json``.

    Parameters
    ----------
    config
        ``{"StateMachines": {<name>: {"TestCases": {<case>: {<state>: <response name>}}}},
        "MockedResponses": {<response name>: {"0": {"Throw": {"Error": ..., "Cause": ...}},
        "1-2": {"Return": <response>}}}}``. In the local engine, ``<name>`` is a state
        machine's name or its logical id in the stack it was deployed from.

    Raises
    ------
    ValueError
        If a test case names a mocked response that is not defined, or a mocked response is
        malformed (tries must be numbered from 0 without gaps).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        responses: Mapping[str, Mapping[str, Any]] = config.get("MockedResponses", {})
        self._cases: dict[tuple[str, str], MockTestCase] = {}
        for machine, machine_config in config.get("StateMachines", {}).items():
            for case, states in machine_config.get("TestCases", {}).items():
                self._cases[machine, case] = MockTestCase(
                    machine,
                    case,
                    [self._state(state, name, responses) for state, name in states.items()],
                )

    @staticmethod
    def _state(
        state: str, name: str, responses: Mapping[str, Mapping[str, Any]]
    ) -> StateMockedResponses:
        if name not in responses:
            raise ValueError(
                f"State {state!r} uses the mocked response {name!r}, which MockedResponses "
                f"does not define (it defines {sorted(responses)})"
            )
        entries = [_response(name, key, entry) for key, entry in responses[name].items()]
        try:
            return StateMockedResponses(state, name, entries)
        except (RuntimeError, ValueError) as error:
            raise ValueError(f"Mocked response {name!r}: {error}") from None

    @classmethod
    def load(cls, source: MockConfigSource) -> MockConfig:
        """A mock configuration from a mapping or from the path of a JSON file."""
        if isinstance(source, Mapping):
            return cls(source)
        return cls(json.loads(Path(source).read_text()))

    def test_case(self, state_machine_names: Sequence[str], case: str) -> MockTestCase:
        """The test case ``case`` of the first of ``state_machine_names`` that defines it.

        Raises
        ------
        LookupError
            If none of them defines it.
        """
        for machine in state_machine_names:
            if (machine, case) in self._cases:
                return self._cases[machine, case]
        defined = sorted(f"{machine}#{name}" for machine, name in self._cases)
        raise LookupError(
            f"No test case {case!r} for the state machine {' or '.join(state_machine_names)} "
            f"in the mock configuration (it defines {defined})"
        )


# -- the patches that give each execution its test case ---------------------------------------

_STARTING: Final = threading.local()  # the test case of the execution being started


def test_case_from_arn(
    original: Callable[..., Any], test_case_for: Callable[[str, str], MockTestCase]
) -> Callable[..., Any]:
    """Start an execution under the test case named after ``#`` in the state machine ARN.

    Step Functions Local's convention (``stateMachineArn#TestCaseName``), for StartExecution
    and StartSyncExecution. An unknown test case is refused with ``InvalidName``.
    """

    def start(self: Any, state_machine_arn: str, *args: Any, **kwargs: Any) -> Any:
        arn, _, case = state_machine_arn.partition("#")
        try:
            _STARTING.case = test_case_for(arn, case) if case else None
        except LookupError as error:
            raise InvalidName(str(error)) from None
        try:
            return original(self, arn, *args, **kwargs)
        finally:
            _STARTING.case = None

    return start


def worker_with_test_case(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Give the worker of the execution being started its test case (or none)."""

    def worker(self: Any) -> Any:
        created = original(self)
        set_test_case(created, getattr(_STARTING, "case", None))
        _STARTING.case = None  # what this execution starts runs without it
        return created

    return worker


def mocked_until_responses_run_out(self: Any) -> bool:
    """Whether the state being evaluated takes a mocked response at this try.

    moto's version answers yes for every try of a mocked state and fails the execution past
    the last numbered try; here such a try calls the service.
    """
    case = self.mock_test_case
    responses = case and case.state_mocked_responses.get(self.next_state_name)
    if responses is None:
        return False
    tries: int = self.states.context_object.context_object_data["State"]["RetryCount"]
    return tries < len(responses.mocked_responses)


def patches() -> list[Any]:
    """The patches that give each execution's worker its test case, and each try its response.

    ``test_case_from_arn`` wraps StartExecution together with the interpreter's own
    completions (``patched_moto``).
    """
    return [
        *(
            wrap(execution, "_get_start_execution_worker", worker_with_test_case)
            for execution in (BackendExecution, SyncExecution)
        ),
        replace(Environment, "is_mocked_mode", mocked_until_responses_run_out),
    ]
