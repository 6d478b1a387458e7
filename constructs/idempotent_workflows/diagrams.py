"""Mermaid flowcharts of Amazon States Language definitions, for docs that stay true.

``docs/generate.py`` renders the example stacks' synthesized definitions with
:func:`mermaid`, and a test fails when the committed diagrams differ from a fresh rendering.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

_START: Final = "start"
_END: Final = "finish"
_SAFE_ID = re.compile(r"[^A-Za-z0-9_]")


def _node_id(prefix: str, name: str) -> str:
    return _SAFE_ID.sub("_", f"{prefix}{name}")


def _label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _edges(state: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    """(label, target) of each transition out of a state; a None target ends the graph."""
    for index, choice in enumerate(state.get("Choices", []), start=1):
        yield f"when {index}", choice["Next"]
    if "Default" in state:
        yield "otherwise", state["Default"]
    if "Next" in state:
        yield "", state["Next"]
    if state.get("End"):
        yield "", None
    for catch in state.get("Catch", []):
        yield "catch " + ", ".join(catch["ErrorEquals"]), catch["Next"]


def _graph(definition: Mapping[str, Any], prefix: str, indent: str) -> Iterator[str]:
    """Lines of one graph: its states (nested graphs as subgraphs) and their transitions."""
    start, end = _node_id(prefix, _START), _node_id(prefix, _END)
    yield f"{indent}{start}(( ))"
    yield f"{indent}{end}((( )))"
    yield f"{indent}{start} --> {_node_id(prefix, definition['StartAt'])}"
    for name, state in definition["States"].items():
        node = _node_id(prefix, name)
        kind = state["Type"]
        nested = [*state.get("Branches", []), state.get("ItemProcessor") or state.get("Iterator")]
        nested = [graph for graph in nested if graph]
        if nested:
            yield f"{indent}subgraph {node} [{_label(f'{name} ({kind})')}]"
            for index, graph in enumerate(nested):
                yield from _graph(graph, f"{node}_{index}_", indent + "  ")
            yield f"{indent}end"
        elif kind == "Choice":
            yield f"{indent}{node}{{{_label(name)}}}"
        elif kind in ("Fail", "Succeed"):
            yield f"{indent}{node}([{_label(f'{name} ({kind})')}])"
        else:
            yield f"{indent}{node}[{_label(f'{name} ({kind})')}]"
        for label, target in _edges(state):
            arrow = f"-->|{_label(label)}|" if label else "-->"
            yield f"{indent}{node} {arrow} {_node_id(prefix, target) if target else end}"
        if kind in ("Fail", "Succeed"):
            yield f"{indent}{node} --> {end}"


def mermaid(definition: Mapping[str, Any]) -> str:
    """A Mermaid flowchart of a state machine definition (ASL as a dict).

    Each state is a node labelled with its name and type; Choice rules, defaults and Catch
    clauses are labelled edges; Parallel branches and Map iterations are subgraphs.

    Parameters
    ----------
    definition
        The definition, for example from
        ``idempotent_workflows.testing.template.state_machine_definitions``.

    Returns
    -------
    str
        The flowchart, to put in a ```` ```mermaid ```` block.
    """
    return "\n".join(["flowchart TD", *_graph(definition, "", "  ")]) + "\n"
