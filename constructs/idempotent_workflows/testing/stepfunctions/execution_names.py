"""StartExecution's execution names, as Step Functions treats them.

moto takes any name (its executing backend never validates one), applies the Standard name
rule to Express state machines too, and checks for an existing execution of the name apart
from adding the new one, so that racing starts of one name could create several executions.
Step Functions, and so the engine with ``names_as_step_functions``:

- refuses a name longer than ``MAX_NAME_LENGTH`` characters (``ValidationException``) or with
  a character outside its alphabet (``InvalidName``, ``name_problem`` says which);
- Standard: a name is taken once. The same name and the same input while that execution runs
  answer that execution (no new one); a closed execution of the name, or another input, is
  ``ExecutionAlreadyExists``. The check and the start are one step, whatever the concurrency;
- Express: names are not idempotent, every start is a new execution. In Step Functions its ARN
  is ``…:express:<machine>:<name>:<id>``; the engine keeps the ``execution:`` form
  (``…:execution:<machine>:<name>:<id>``) so that DescribeExecution still answers for it,
  which the engine's own reading needs (Step Functions refuses DescribeExecution of Express
  executions; their history is in CloudWatch Logs).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any, Final

from ..moto_compat import BackendExecution, InvalidName, ValidationException
from .sync_execution import new_execution

#: Longest execution name Step Functions accepts.
MAX_NAME_LENGTH: Final = 80
#: Characters an execution name must not contain, besides white space and control characters.
_FORBIDDEN: Final = frozenset('<>{}[]?*"#%\\^|~`$&,;:/')


def name_problem(name: str) -> str | None:
    r"""Why Step Functions refuses ``name`` as an execution name, or None if it accepts it.

    The rules of the StartExecution reference: 1 to 80 characters; no white space, no
    ``< > { } [ ] ? * " # % \\ ^ | ~ ` $ & , ; : /``, no control characters (U+0000-001F,
    U+007F-009F), no U+FFFE, U+FFFF, U+10FFFF and no surrogates. Other non-ASCII characters
    are accepted (CloudWatch Logs only takes ``0-9 A-Z a-z - _``).
    """
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        return f"{len(name)} characters, expected 1 to {MAX_NAME_LENGTH}"
    for char in name:
        code = ord(char)
        if (
            char.isspace()
            or char in _FORBIDDEN
            or code <= 0x1F
            or 0x7F <= code <= 0x9F
            or code in (0xFFFE, 0xFFFF, 0x10FFFF)
            or 0xD800 <= code <= 0xDFFF
        ):
            return f"the character {char!r} (U+{code:04X}) is not allowed"
    return None


def names_as_step_functions(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap the backend's ``start_execution`` with Step Functions' name rules (above)."""
    locks: dict[tuple[str, str], threading.Lock] = {}
    locks_guard = threading.Lock()

    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: str,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Any:
        problem = name_problem(name)
        if problem is not None and len(name) > MAX_NAME_LENGTH:
            raise ValidationException(
                f"1 validation error detected: Value '{name}' at 'name' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_NAME_LENGTH}"
            )
        if problem is not None:
            raise InvalidName(f"Invalid Name: '{name}' ({problem})")
        state_machine = self.describe_state_machine(state_machine_arn)
        if state_machine.type == "EXPRESS":
            execution = new_execution(
                self,
                state_machine,
                BackendExecution,
                name=name,
                execution_input=execution_input,
                trace_header=trace_header,
                arn_suffix=f":{uuid.uuid4()}",
            )
            execution.start()
            return execution
        with locks_guard:
            lock = locks.setdefault((state_machine.arn, name), threading.Lock())
        with lock:  # the existing-name check and the new execution, as one step
            return original(self, state_machine_arn, name, execution_input, trace_header)

    return start_execution
