"""Which state machine a state ends up in, for the synth-time checks that depend on its type.

CDK does not tell a state (or a fragment) which ``StateMachine`` it belongs to. It does render
the whole definition, nested branches included, inside the ``StateMachine`` constructor, by
calling each state's ``to_state_json``; jsii calls a Python override of it back synchronously,
with that constructor still running on the Python stack. A state that mixes in
:class:`MachineProbe` notes that ``StateMachine`` then, and a deferred validation
(``node.add_validation``) compares its ``state_machine_type`` at synth time.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import FrameType
from typing import Any

from aws_cdk import aws_stepfunctions as sfn


def _constructing_machine() -> sfn.StateMachine | None:
    """The ``StateMachine`` whose constructor is running on this thread's stack, if any."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "__init__":
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, sfn.StateMachine):
                return candidate
        frame = frame.f_back
    return None


class MachineProbe:
    """Mixin for a state class: remembers the state machines that rendered the state.

    Mix it in before the CDK state class (``class _RunWork(MachineProbe, sfn.Parallel)``);
    the rendering itself is unchanged.
    """

    def to_state_json(
        self, top_level_query_language: sfn.QueryLanguage | None = None
    ) -> Mapping[Any, Any]:
        """Note the state machine being built, then render as the CDK state class does."""
        machine = _constructing_machine()
        if machine is not None and machine not in self.machines:
            self.machines.append(machine)
        rendered: Mapping[Any, Any] = super().to_state_json(  # type: ignore[misc]
            top_level_query_language
        )
        return rendered

    @property
    def machines(self) -> list[sfn.StateMachine]:
        """The state machines whose definition holds this state (one, once built into one)."""
        found: list[sfn.StateMachine] | None = self.__dict__.get("_probe_machines")
        if found is None:
            found = self.__dict__["_probe_machines"] = []
        return found
