"""Evaluate JSONata as Step Functions does: jsonata-python, corrected where it differs.

Step Functions follows JSONata 2.0.6, the JavaScript implementation (npm ``jsonata``), adds
six functions of its own and rejects ``$eval``. The local engine evaluates with jsonata-python
(a port) and corrects, one small function each, what the differential tests
(``tests/test_jsonata_fidelity.py``) found to differ from the reference: how values are bound
and returned, ``$string``, ``$sort`` on strings, and the 2.1.0 operators ``??`` and ``?:``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any, Final

import jsonata
from jsonata.functions import Functions
from jsonata.jexception import JException
from jsonata.parser import Parser
from jsonata.utils import Utils

from ...runtime.javascript_json import OMITTED, stringify, to_precision_15

#: Step Functions' hash functions take at most this many characters (UTF-16 code units).
HASH_INPUT_LIMIT: Final = 10_000
#: ``$range`` returns at most this many values.
RANGE_LIMIT: Final = 1000
#: Beyond this magnitude a JavaScript number no longer holds every integer.
MAX_SAFE_INTEGER: Final = 2**53
_HASH_ALGORITHMS: Final = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}


class JSONataEvaluationError(Exception):
    """A JSONata expression failed; Step Functions reports it as States.QueryEvaluationError."""


# -- the functions Step Functions adds ---------------------------------------------------------


def utf16_length(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, as JavaScript counts ``text.length``."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _javascript_utf8(text: str) -> bytes:
    """UTF-8 bytes as Node writes them: a lone surrogate becomes U+FFFD instead of failing."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")


def _hash(value: str, algorithm: str) -> str:
    """``$hash(value, algorithm)``: hex digest of the UTF-8 bytes, at most 10,000 characters."""
    if not isinstance(value, str):
        raise JSONataEvaluationError("$hash takes a string as its first argument")
    if utf16_length(value) > HASH_INPUT_LIMIT:
        raise JSONataEvaluationError(
            f"$hash takes at most {HASH_INPUT_LIMIT} characters, got {utf16_length(value)}"
        )
    if algorithm not in _HASH_ALGORITHMS:
        raise JSONataEvaluationError(f"$hash does not know the algorithm {algorithm!r}")
    return _HASH_ALGORITHMS[algorithm](_javascript_utf8(value)).hexdigest()


def _parse(text: str) -> Any:
    """``$parse(text)``: the JSON value the text holds."""
    try:
        return to_jsonata(json.loads(text))
    except (TypeError, ValueError) as error:
        raise JSONataEvaluationError(f"$parse could not parse its argument: {error}") from None


def _is_integer(value: Any) -> bool:
    return Utils.is_numeric(value) and float(value).is_integer()


def _partition(array: list[Any], size: int) -> list[list[Any]]:
    """``$partition(array, size)``: consecutive chunks of ``size``; the last may be shorter."""
    if not isinstance(array, list):
        raise JSONataEvaluationError("$partition takes an array as its first argument")
    if not _is_integer(size) or size <= 0:
        raise JSONataEvaluationError("$partition takes a positive integer chunk size")
    size = int(size)
    return [array[start : start + size] for start in range(0, len(array), size)]


def _range(start: int, end: int, step: int) -> list[int]:
    """``$range(start, end, step)``: integers from start to end inclusive, at most 1,000."""
    if not all(_is_integer(value) for value in (start, end, step)) or step == 0:
        raise JSONataEvaluationError("$range takes integers start, end and a non-zero step")
    values = list(range(int(start), int(end) + (1 if step > 0 else -1), int(step)))
    if len(values) > RANGE_LIMIT:
        raise JSONataEvaluationError(f"$range returns at most {RANGE_LIMIT} values")
    return values


def _random(seed: int | None = None) -> float:
    """``$random(seed?)``: a number in [0, 1); the same seed gives the same number."""
    if seed is None:
        return random.random()
    if not _is_integer(seed):
        raise JSONataEvaluationError("$random takes an integer seed")
    return random.Random(int(seed)).random()


def _no_eval(*args: Any) -> Any:
    """Step Functions rejects ``$eval``; jsonata-python would evaluate it."""
    raise JSONataEvaluationError("Step Functions does not support $eval; use $parse")


_STEP_FUNCTIONS_FUNCTIONS: Final[dict[str, Callable[..., Any]]] = {
    "hash": _hash,
    "parse": _parse,
    "partition": _partition,
    "range": _range,
    "random": _random,
    "uuid": lambda: str(uuid.uuid4()),
    "eval": _no_eval,
}


# -- values in and out -------------------------------------------------------------------------

_ARRAY_INDEX: Final = re.compile(r"0|[1-9][0-9]{0,9}")


def _javascript_key_order(obj: dict[str, Any]) -> list[str]:
    """The order in which JavaScript lists an object's keys.

    Keys that are array indices (``"0"``, ``"42"``) come first, in numeric order; the others
    keep their order of insertion.
    """
    indices = sorted(
        (key for key in obj if _ARRAY_INDEX.fullmatch(key) and int(key) < 2**32 - 1), key=int
    )
    return indices + [key for key in obj if key not in set(indices)]


def to_jsonata(value: Any) -> Any:
    """A JSON value (as ``json.loads`` gives it) as JavaScript JSONata would hold it.

    jsonata-python reads ``None`` inside a value as "nothing" (``[null]`` became ``[]``) and
    expects its own null, ``Utils.NULL_VALUE``; integers beyond 2^53 are rounded to a double,
    as ``JSON.parse`` rounds them; object keys take JavaScript's order.
    """
    if value is None:
        return Utils.NULL_VALUE
    if isinstance(value, dict):
        return {key: to_jsonata(value[key]) for key in _javascript_key_order(value)}
    if isinstance(value, list):
        return [to_jsonata(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        return float(value)
    return value


def from_jsonata(value: Any) -> Any:
    """A jsonata-python result as a JSON value: its null becomes ``None``."""
    if value is Utils.NULL_VALUE:
        return None
    if isinstance(value, dict):
        return {key: from_jsonata(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_jsonata(item) for item in value]
    return value


# -- functions that differ from JavaScript JSONata ---------------------------------------------


def _string_replacer(value: Any) -> Any:
    """``$string``'s replacer: numbers to 15 significant digits, functions as ``""``."""
    if value is None:
        return OMITTED
    if value is Utils.NULL_VALUE:
        return None
    if Utils.is_numeric(value):
        return to_precision_15(value)
    if Utils.is_function(value) or isinstance(value, Parser.Symbol):
        return ""
    return value


class _JavaScriptFunctions:
    """Built-in functions as JSONata 2.0.6 defines them, where jsonata-python differs."""

    @staticmethod
    def string(arg: Any, prettify: bool | None) -> str | None:
        """``$string``: JSON text as ``JSON.stringify`` writes it.

        jsonata-python escaped every non-ASCII character, wrote 2^53 as
        ``9.00719925474099e+15`` and a function as ``'""'``.
        """
        if isinstance(arg, Utils.JList) and arg.outer_wrapper:
            arg = arg[0]
        if arg is None or isinstance(arg, str):
            return arg
        if Utils.is_function(arg) or isinstance(arg, Parser.Symbol):
            return ""
        if isinstance(arg, float) and not math.isfinite(arg):
            raise JException("D3001", 0, arg)
        return stringify(arg, indent=2 if prettify else 0, replace=_string_replacer)

    @staticmethod
    def sort(arr: Any, comparator: Any) -> Any:
        """``$sort``: a stable sort that moves an item only when the comparator says so.

        Without a comparator, strings are ordered by UTF-16 code units, as JavaScript's ``>``
        orders them; jsonata-python compared code points (an emoji sorted after U+FFFD). With
        one, items the comparator does not tell apart keep their order; jsonata-python read
        "false" as "less than" and reordered them.
        """
        if arr is None or len(arr) <= 1:
            return arr
        if comparator is None:
            if not Utils.is_array_of_strings(arr):
                return Functions.sort(arr, None)
            return sorted(arr, key=lambda text: text.encode("utf-16-be", "surrogatepass"))

        def after(a: Any, b: Any) -> bool:
            return bool(jsonata.Jsonata.boolize(Functions.func_apply(comparator, [a, b])))

        return sorted(
            arr, key=functools.cmp_to_key(lambda a, b: 1 if after(a, b) else -after(b, a))
        )


_REPLACED_BUILTINS: Final = {"string": "<x-b?:s>", "sort": "<af?:a>"}


# -- parsing: JSONata 2.0.6 ----------------------------------------------------------------------


class _OperatorAfter2_0_6(Parser.Infix):  # type: ignore[misc]
    """An operator JSONata 2.1.0 added: a syntax error where it is used as an operator.

    The token itself stays known: a function signature such as ``<s?:s>`` holds ``?:``.
    """

    def led(self, left: Any) -> Any:
        raise JSONataEvaluationError(
            f"JSONata 2.0.6, which Step Functions implements, has no operator {self.id}"
        )


def _parser_2_0_6() -> Parser:
    """A jsonata-python parser that rejects the operators of JSONata 2.1.0, ``??`` and ``?:``.

    Step Functions (2.0.6) rejects an expression that uses them; jsonata-python evaluated it.
    """
    parser = Parser()
    for operator in ("??", "?:"):
        del parser.symbol_table[operator]
        parser.register(_OperatorAfter2_0_6(parser, operator))
    return parser


_THREAD: Final = threading.local()  # jsonata-python's parser and expressions are per thread


def _compile(expression: str) -> jsonata.Jsonata:
    if not hasattr(_THREAD, "parser"):
        _THREAD.parser, _THREAD.cache = _parser_2_0_6(), {}
    # jsonata.Jsonata() parses with the thread's shared parser: lend it ours, then give it back.
    shared = vars(jsonata.Jsonata.PARSER)
    previous = shared.get("parser")
    shared["parser"] = _THREAD.parser
    try:
        compiled = jsonata.Jsonata(expression)
    finally:
        if previous is None:
            del shared["parser"]
        else:
            shared["parser"] = previous
    compiled.set_output_convert_nulls(False)
    for name, signature in _REPLACED_BUILTINS.items():
        compiled.register_function(
            name, jsonata.Jsonata.JNativeFunction(name, signature, _JavaScriptFunctions, name)
        )
    for name, function in _STEP_FUNCTIONS_FUNCTIONS.items():
        compiled.register_lambda(name, function)
    return compiled


def evaluate_jsonata(expression: str, bindings: dict[str, Any], *, undefined: Any = None) -> Any:
    """Evaluate a JSONata expression as Step Functions does.

    The parsed expression is kept for the next evaluation in this thread: a state machine has
    a fixed set of expressions.

    Parameters
    ----------
    expression
        The expression, without ``{% %}``.
    bindings
        The variables by name, without ``$`` (``states`` and the workflow's variables), as
        JSON values.
    undefined
        Returned when the expression evaluates to nothing (JSONata's undefined).

    Raises
    ------
    JSONataEvaluationError
        If the expression does not parse or its evaluation fails.
    """
    try:
        compiled = getattr(_THREAD, "cache", {}).get(expression)
        if compiled is None:
            compiled = _THREAD.cache[expression] = _compile(expression)
        result = compiled.evaluate(None, {name: to_jsonata(v) for name, v in bindings.items()})
    except JSONataEvaluationError:
        raise
    except Exception as error:  # jsonata-python raises its own JException and Python errors
        raise JSONataEvaluationError(str(error)) from None
    return undefined if result is None else from_jsonata(result)
