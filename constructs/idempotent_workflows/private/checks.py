"""Checks of construct props, made before anything is built: the one place for them.

Each error names the construct (or function) the user called, the prop, what it got and the fix.
jsii reports a wrong type deep inside its JavaScript runtime (``Cannot read properties of
undefined``) or not at all, until an attribute is missing much later; these checks turn such
mistakes into a ``TypeError`` or ``ValueError`` at the line that made them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any, Final

from aws_cdk import Duration, RemovalPolicy

_FIELD_PATH: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")


def describe(value: Any) -> str:
    """``int 300``, ``str 'orderId'``: the type and a short representation of ``value``."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def fail(owner: str, prop: str, expected: str, value: Any, fix: str) -> TypeError:
    """The error for a prop of the wrong type: what, got what, expected what, how to fix."""
    return TypeError(f"{owner}: {prop} must be {expected}, got {describe(value)}: {fix}.")


def check_instance(
    owner: str, prop: str, value: Any, expected: type | tuple[type, ...], fix: str
) -> None:
    """Raise unless ``value`` is an instance of ``expected`` (or None, for optional props)."""
    if value is not None and not isinstance(value, expected):
        names = [t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,))]
        article = "an" if names[0][0] in "AEIOU" else "a"
        raise fail(owner, prop, f"{article} {' or '.join(names)}", value, fix)


def check_bool(owner: str, prop: str, value: Any) -> None:
    """Raise unless ``value`` is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise fail(owner, prop, "a bool", value, f"pass {prop}=True or {prop}=False")


def check_int(owner: str, prop: str, value: Any, *, minimum: int, example: int) -> None:
    """Raise unless ``value`` is None or a whole number (not a bool) of at least ``minimum``."""
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise fail(owner, prop, "an int", value, f"pass a whole number, for example {example}")
    if value < minimum:
        raise ValueError(f"{owner}: {prop} must be at least {minimum}, got {value}.")


def check_removal_policy(owner: str, value: Any) -> None:
    """Raise unless ``value`` is a ``RemovalPolicy``."""
    check_instance(
        owner,
        "removal_policy",
        value,
        RemovalPolicy,
        "pass RemovalPolicy.RETAIN or RemovalPolicy.DESTROY",
    )


def check_interface(
    owner: str, prop: str, value: Any, *, members: Iterable[str], expected: str, fix: str
) -> None:
    """Raise unless ``value`` has the members of a CDK interface (or is None).

    jsii interfaces such as ``ITable`` cannot be checked with ``isinstance``; an object that
    lacks their members is certainly not one.
    """
    if value is not None and not all(hasattr(value, member) for member in members):
        raise fail(owner, prop, expected, value, fix)


def check_duration(owner: str, prop: str, value: Any) -> None:
    """Raise unless ``value`` is a ``Duration`` or None; a number gets the ``Duration`` to pass."""
    if value is None or isinstance(value, Duration):
        return
    if isinstance(value, int | float) and not isinstance(value, bool):
        fix = f"pass {prop}=Duration.seconds({value!r})"
    else:
        fix = f"pass for example {prop}=Duration.minutes(5)"
    raise fail(owner, prop, "an aws_cdk.Duration", value, fix)


def seconds(owner: str, prop: str, value: Any, *, maximum: int | None = None) -> int:
    """A ``Duration`` prop in whole seconds, from 1 s to ``maximum``: the library's one rule.

    Step Functions counts waits, retry intervals and task timeouts in whole seconds, and the
    idempotency record keeps epoch seconds, so every duration prop follows this rule.

    Parameters
    ----------
    owner, prop
        The construct and the prop, for the error message.
    value
        The prop's value.
    maximum
        Largest number of seconds allowed. Default: no limit.

    Raises
    ------
    TypeError
        If ``value`` is None or not a ``Duration``.
    ValueError
        If it is not a whole number of seconds, below 1 s or above ``maximum``.
    """
    if value is None:
        raise TypeError(
            f"{owner}: {prop} is required: pass for example {prop}=Duration.seconds(5)."
        )
    check_duration(owner, prop, value)
    milliseconds = value.to_milliseconds()
    whole, rest = divmod(milliseconds, 1000)
    if rest:
        raise ValueError(
            f"{owner}: {prop} must be a whole number of seconds (Step Functions and the "
            f"idempotency record count in seconds), got {milliseconds} ms: pass for example "
            f"{prop}=Duration.seconds({max(1, math.ceil(milliseconds / 1000))})."
        )
    if whole < 1:
        raise ValueError(
            f"{owner}: {prop} must be at least 1 second, got {whole} s: pass for example "
            f"{prop}=Duration.seconds(10)."
        )
    if maximum is not None and whole > maximum:
        raise ValueError(
            f"{owner}: {prop} must be at most {maximum} s, got {whole} s: pass a shorter one."
        )
    return int(whole)


def field_paths(owner: str, prop: str, value: Any) -> tuple[str, ...]:
    """``value`` as a tuple of distinct dotted field paths (``"TransactionId"``, ``"order.id"``).

    Raises
    ------
    TypeError
        If ``value`` is a string rather than a sequence of them.
    ValueError
        If a path is not a dotted field path, or a path repeats.
    """
    if isinstance(value, str):
        raise fail(owner, prop, "a sequence of field paths", value, f"pass {prop}=[{value!r}]")
    paths = tuple(value)
    for path in paths:
        if not isinstance(path, str) or not _FIELD_PATH.match(path):
            raise ValueError(
                f"{owner}: {prop} got {path!r}: expected a dotted field path "
                "such as 'TransactionId' or 'order.id' (letters, digits, '_' and '-')."
            )
    if len(set(paths)) != len(paths):
        raise ValueError(f"{owner}: {prop} got a repeated field: {paths!r}.")
    return paths
