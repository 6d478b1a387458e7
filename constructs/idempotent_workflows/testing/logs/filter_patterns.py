"""CloudWatch Logs JSON filter patterns, evaluated against log events as CloudWatch does.

No local emulator evaluates them (moto and MiniStack match every event with a JSON pattern,
and publish no metric), so the metric filters' proof needs this evaluator. It reads the JSON
grammar of the CloudWatch Logs User Guide ("Filter pattern syntax"), which is what
``aws_logs.FilterPattern``'s JSON builders write: ``{ ... }``; selectors ``$.a.b[0].c``;
``=`` and ``!=`` on strings, where ``*`` is a wildcard; ``= != < <= > >=`` on numbers;
``IS NULL``, ``IS TRUE``, ``IS FALSE``; ``NOT EXISTS``; ``&&`` binding tighter than ``||``;
parentheses. It refuses anything else (term and space-delimited patterns, ``%regex%``) with
``FilterPatternError`` rather than guess.

Semantics, from the same guide: a selector that does not resolve, or resolves to an object or
an array, matches nothing (``NOT EXISTS`` matches exactly those that do not resolve); string
comparisons are exact and case sensitive; an event that is not a JSON object matches nothing.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

_TOKEN: Final = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\)|\{|\})
      | (?P<selector>\$(?:\.[A-Za-z0-9_\-]+|\[\d+\])*)
      | (?P<word>[^\s()&|=!<>{}"]+)
    )""",
    re.VERBOSE,
)
_STEP: Final = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]")
_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NUMERIC: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_IS: Final = {"NULL": None, "TRUE": True, "FALSE": False}
_ABSENT: Final = object()


class FilterPatternError(ValueError):
    """The pattern is not a JSON filter pattern this evaluator reads."""


@dataclass(frozen=True)
class _Compare:
    selector: str
    op: str  # one of _NUMERIC, or "IS"
    value: Any  # str (with wildcards), float, or None/True/False for IS


@dataclass(frozen=True)
class _NotExists:
    selector: str


@dataclass(frozen=True)
class _Both:
    left: _Expression
    right: _Expression


@dataclass(frozen=True)
class _Either:
    left: _Expression
    right: _Expression


_Expression = _Compare | _NotExists | _Both | _Either


def _tokens(pattern: str) -> list[tuple[str, str]]:
    found, position, text = [], 0, pattern.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise FilterPatternError(f"cannot read {text[position:]!r} in {pattern!r}")
        found.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return found


class _Parser:
    """Recursive descent over the tokens: either := both ('||' both)*, both := unit ('&&' unit)*."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.tokens = _tokens(pattern)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, kind: str, text: str | None = None) -> str:
        token = self.peek()
        if token is None or token[0] != kind or (text is not None and token[1] != text):
            raise FilterPatternError(
                f"expected {text or kind} at token {self.at} of {self.pattern!r}, got {token}"
            )
        self.at += 1
        return token[1]

    def whole(self) -> _Expression:
        self.take("op", "{")
        expression = self.either()
        self.take("op", "}")
        if self.peek() is not None:
            raise FilterPatternError(f"{self.peek()} after the closing brace of {self.pattern!r}")
        return expression

    def either(self) -> _Expression:
        expression = self.both()
        while self.peek() == ("op", "||"):
            self.take("op")
            expression = _Either(expression, self.both())
        return expression

    def both(self) -> _Expression:
        expression = self.unit()
        while self.peek() == ("op", "&&"):
            self.take("op")
            expression = _Both(expression, self.unit())
        return expression

    def unit(self) -> _Expression:
        if self.peek() == ("op", "("):
            self.take("op")
            expression = self.either()
            self.take("op", ")")
            return expression
        selector = self.take("selector")
        if self.peek() == ("word", "IS"):
            self.take("word")
            word = self.take("word")
            if word not in _IS:
                raise FilterPatternError(f"IS {word} in {self.pattern!r}: expected {sorted(_IS)}")
            return _Compare(selector, "IS", _IS[word])
        if self.peek() == ("word", "NOT"):
            self.take("word")
            self.take("word", "EXISTS")
            return _NotExists(selector)
        op = self.take("op")
        if op not in _NUMERIC:
            raise FilterPatternError(f"{op!r} is not a comparison, in {self.pattern!r}")
        if self.peek() is not None and self.peek()[0] == "string":  # type: ignore[index]
            return _Compare(selector, op, json.loads(self.take("string")))
        word = self.take("word")
        if word.startswith("%"):
            raise FilterPatternError(f"regular expressions are not read here: {self.pattern!r}")
        return _Compare(selector, op, float(word) if _NUMBER.fullmatch(word) else word)


def _resolve(document: Any, selector: str) -> Any:
    value = document
    for name, index in _STEP.findall(selector[1:]):
        if name and isinstance(value, dict) and name in value:
            value = value[name]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return _ABSENT
    return value


def _string_matches(value: str, pattern: str) -> bool:
    """Exact, case-sensitive comparison in which ``*`` matches any run of characters."""
    parts = (re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(".*".join(parts), value, re.DOTALL) is not None


def _compare(value: Any, test: _Compare) -> bool:
    if value is _ABSENT or isinstance(value, dict | list):
        return False
    if test.op == "IS":
        return value is test.value
    if isinstance(test.value, float):
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return numeric and _NUMERIC[test.op](value, test.value)
    if test.op not in ("=", "!=") or not isinstance(value, str):
        return False
    return _string_matches(value, test.value) == (test.op == "=")


def _evaluate(expression: _Expression, document: Any) -> bool:
    if isinstance(expression, _Both):
        return _evaluate(expression.left, document) and _evaluate(expression.right, document)
    if isinstance(expression, _Either):
        return _evaluate(expression.left, document) or _evaluate(expression.right, document)
    if isinstance(expression, _NotExists):
        return _resolve(document, expression.selector) is _ABSENT
    return _compare(_resolve(document, expression.selector), expression)


class FilterPattern:
    """A parsed JSON filter pattern.

    Parameters
    ----------
    text
        The pattern, as a metric filter's ``FilterPattern`` holds it.

    Raises
    ------
    FilterPatternError
        If ``text`` is not a JSON filter pattern (or uses what this evaluator does not read).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._expression = _Parser(text).whole()

    def matches(self, message: str) -> bool:
        """Whether a log event's message matches, as CloudWatch Logs decides it."""
        try:
            document = json.loads(message)
        except ValueError:
            return False
        return isinstance(document, dict) and _evaluate(self._expression, document)
