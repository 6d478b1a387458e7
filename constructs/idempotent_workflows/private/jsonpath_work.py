"""Work for the protocol must be JSONata: JSONPath states are refused, naming each field.

Step Functions rejects JSONPath fields in a state machine whose query language is JSONata,
and CDK renders a state built without a ``.jsonata()`` factory (``LambdaInvoke(...)``) with
JSONPath fields inside a Parallel branch, silently. These checks turn that into an error at
construction (the states reachable from the work's start) and at synth (states inside
Parallel branches and Map iterations, which exist only once the state machine is built).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

import jsii
from aws_cdk import aws_stepfunctions as sfn
from constructs import IValidation

from .checks import check_interface

# Fields a JSONPath state has and a JSONata state machine rejects.
_JSONPATH_FIELDS: Final = (
    "InputPath",
    "OutputPath",
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
)


def _jsonpath_fields(name: str, state: Mapping[str, Any]) -> Iterator[str]:
    """``State.Field`` for each JSONPath-only field in a rendered state and its branches."""
    for field in _JSONPATH_FIELDS:
        if field in state:
            yield f"{name}.{field}"
    if any("Condition" not in rule for rule in state.get("Choices", [])):
        yield f"{name}.Choices (JSONPath conditions)"
    graphs = [*state.get("Branches", []), state.get("ItemProcessor") or state.get("Iterator")]
    for graph in filter(None, graphs):
        for inner_name, inner in graph.get("States", {}).items():
            yield from _jsonpath_fields(inner_name, inner)


def _jsonpath_error(owner: str, found: list[str]) -> str:
    return (
        f"{owner}: the work uses JSONPath ({', '.join(found)}), but the idempotent workflow is "
        "a JSONata state machine, and Step Functions rejects JSONPath states in one: build "
        "these states with the .jsonata() factories, for example "
        "tasks.LambdaInvoke.jsonata(scope, id, lambda_function=fn, "
        "outputs='{% $states.result.Payload %}'), which take arguments, outputs and assign "
        "in place of the JSONPath props (parameters, input_path, output_path, result_path, "
        "result_selector)."
    )


def check_jsonata_work(owner: str, work: Any) -> None:
    """Refuse work with JSONPath states: Step Functions rejects them in a JSONata state machine.

    Renders the states reachable from the work's start as the protocol's Parallel branch
    renders them (a state without a query language of its own is rendered as JSONPath there);
    states inside the work's own Parallel branches and Map iterations exist only once the state
    machine is built, and :class:`JsonataWork` checks them at synth time.

    Raises
    ------
    TypeError
        If ``work`` is not a chainable.
    ValueError
        Naming each JSONPath field and the factories to use instead.
    """
    check_interface(
        owner,
        "work",
        work,
        members=("start_state", "end_states"),
        expected="an aws_stepfunctions.IChainable (a state, a Chain or a fragment)",
        fix="pass for example sfn.Pass.jsonata(scope, 'Work') or a Chain of such states",
    )
    if work is None:
        raise TypeError(f"{owner}: work is required: pass the JSONata states to protect.")
    found = [
        field
        for state in sfn.State.find_reachable_states(work.start_state, include_error_handlers=True)
        for field in _jsonpath_fields(
            state.state_id, state.to_state_json(sfn.QueryLanguage.JSON_PATH)
        )
    ]
    if found:
        raise ValueError(_jsonpath_error(owner, found))


@jsii.implements(IValidation)
class JsonataWork:
    """Synth-time check of the whole work, nested branches included, once it is built.

    Parameters
    ----------
    owner
        The construct named in the error.
    run_work
        The Parallel state whose branch is the work.
    """

    def __init__(self, owner: str, run_work: sfn.Parallel) -> None:
        self._owner = owner
        self._run_work = run_work

    def validate(self) -> list[str]:
        """The JSONPath error, if any state of the built work has a JSONPath field."""
        rendered = self._run_work.to_state_json(sfn.QueryLanguage.JSONATA)
        found = list(_jsonpath_fields(self._run_work.state_id, rendered))
        return [_jsonpath_error(self._owner, found)] if found else []
