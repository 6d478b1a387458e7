"""JSONata building blocks of the protocol's states: keys, clocks, JSON text and error causes.

Keys, clocks and stored results are computed by Step Functions itself, so the idempotency
machinery needs no Lambda function (docs/protocol.md). ``runtime/hashing.py`` computes the
same keys in Python: a change to the key expression changes it too (its differential test
against the reference JSONata fails until it does).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from ..runtime.hashing import HASH_CHUNK, MAX_DEPTH, TOO_DEEP
from ..runtime.key_rules import index_without_array, named_step_on_array

# JSON text of any value. `$string` gives JSON for everything but a string, which it returns
# unquoted; a string is quoted by stringifying a one-element array and cutting the brackets off.
_TO_JSON: Final = (
    "$toJson := function($v) { $type($v) = 'string'"
    " ? $substring($string([$v]), 1, $length($string([$v])) - 2) : $string($v) };"
)

# A number as text that tells every double apart: `$string` keeps 15 significant digits, so
# 1 and 1.0000000000000002 would share a key; the remainder it drops is appended. Zero is
# written "0" whatever its sign (JSON's -0 equals 0). Near the largest double, the rounded text
# would overflow, so the number is first divided by 2^100, which is exact.
_NUMBER: Final = (
    "$numberText := function($n) { $n = 0 ? '0'"
    f" : $abs($n) > 1e300 ? $numberText($n / {2**100}) & '*2^100'"
    " : ($s := $string($n); $rest := $n - $number($s);"
    " $rest = 0 ? $s : $s & '~' & $string($rest)) };"
)

# Canonical JSON: object keys sorted at every depth, so key order never changes a key. `$d` is
# the number of arrays and objects around `$v`.
_CANONICAL: Final = (
    "$canonical := function($v, $d) {"
    f" $d > {MAX_DEPTH}"
    f" ? $error('{TOO_DEEP}')"
    " : $type($v) = 'object'"
    " ? '{' & $join($map($sort($keys($v)), function($k) {"
    " $toJson($k) & ':' & $canonical($lookup($v, $k), $d + 1) }), ',') & '}'"
    " : $type($v) = 'array'"
    " ? '[' & $join($map($v, function($e) { $canonical($e, $d + 1) }), ',') & ']'"
    " : $type($v) = 'number' ? $numberText($v)"
    " : $toJson($v) };"
)

# SHA-256 of text of any length: short text directly, longer text as the hash of its chunks'
# hashes (prefixed, so that it can never equal the hash of a short text).
_DIGEST: Final = (
    "$digest := function($s) {"
    f" $length($s) <= {HASH_CHUNK} ? $hash($s, 'SHA-256')"
    " : $hash('chunks:' & $join($map("
    f"[0..$floor(($length($s) - 1) / {HASH_CHUNK})],"
    f" function($i) {{ $hash($substring($s, $i * {HASH_CHUNK}, {HASH_CHUNK}), 'SHA-256') }})),"
    " 'SHA-256') };"
)

#: Epoch seconds at which the current state was entered.
NOW: Final = "$floor($toMillis($states.context.State.EnteredTime) / 1000)"


def jsonata(expression: str) -> str:
    """Wrap a JSONata expression in the ``{% %}`` delimiters Step Functions expects."""
    return "{% " + expression + " %}"


def literal(value: str) -> str:
    """Return a JSONata string literal for ``value``."""
    return json.dumps(value)


def to_json(expression: str) -> str:
    """JSONata that evaluates to the JSON text of ``expression``'s value."""
    return f"({_TO_JSON} $toJson({expression}))"


# What a JSON text costs in the idempotency record. The record keeps the text in a string
# attribute, which the JSON that carries the item (GetItem's answer, StoreResult's parameters)
# escapes once more: each `"` and `\` gains a backslash. So the cost is the UTF-8 bytes of the
# text (its ASCII characters, plus the bytes of the others, which `$encodeUrlComponent` writes
# as three characters each) and one byte per `"` and `\` (what `$string` of a one-element array
# adds beyond its four characters `["` and `"]`). `$length` counts code points in JSONata; JSON
# text holds no control character and no lone surrogate, so the count is exact.
_STORED_SIZE: Final = (
    "$storedSize := function($text) { ($rest := $replace($text, /[\\x00-\\x7F]+/, '');"
    " $length($text) - $length($rest) + $length($encodeUrlComponent($rest)) / 3"
    " + $length($string([$text])) - $length($text) - 4) };"
)


def stored_size(expression: str) -> str:
    r"""JSONata for the bytes that ``expression``'s JSON text costs in the idempotency record.

    Its UTF-8 bytes plus one per ``"`` and ``\`` in it: the JSON that carries the record
    escapes the stored text once more.
    """
    return f"({_TO_JSON} {_STORED_SIZE} $storedSize($toJson({expression})))"


def replayable_json(expression: str, limit: int, error: str) -> str:
    """JSONata for ``expression``'s JSON text, or ``$error(error)`` if it costs over ``limit``.

    Parameters
    ----------
    expression
        JSONata for the value to store.
    limit
        The most bytes the text may cost in the record (``stored_size``).
    error
        The error message (a ``States.QueryEvaluationError`` in Step Functions).
    """
    return (
        f"({_TO_JSON} {_STORED_SIZE} $text := $toJson({expression});"
        f" $storedSize($text) <= {limit} ? $text : $error({literal(error)}))"
    )


def _hashed(prefix: str, material: str) -> str:
    return (
        f"({_TO_JSON} {_NUMBER} {_CANONICAL} {_DIGEST} {prefix}$digest($canonical({material}, 0)))"
    )


def idempotency_key(namespace: str, material: str) -> str:
    """JSONata for the key of ``material``: ``<namespace>#<sha256 of its canonical JSON>``.

    Parameters
    ----------
    namespace
        Prefix that keeps the keys of different workflows apart in a shared table.
    material
        JSONata expression for the value that identifies a duplicate.
    """
    return _hashed(f"{literal(namespace + '#')} & ", material)


def fingerprint(material: str) -> str:
    """JSONata for the SHA-256 of the canonical JSON of ``material`` (payload validation)."""
    return _hashed("", material)


def seconds_from_now(seconds: int) -> str:
    """JSONata for the epoch time ``seconds`` after now, as the string DynamoDB numbers take."""
    return f"$string({NOW} + {seconds})"


def cause_of(error: str) -> str:
    """JSONata for the ``Cause`` of the error output ``error``, or a note when it has none.

    A Fail state needs a string; ``SendTaskFailure`` and some service errors give no cause.
    """
    return f"$exists({error}.Cause) ? {error}.Cause : '(no cause given)'"


def field_path(input_expression: str, path: str) -> str:
    """JSONata for the value at the dotted ``path``: members of objects, indexes of arrays.

    Each step is an object member's name, or a whole number that indexes an array
    (``"0.messageId"``: the first element's ``messageId``). JSONata's own path would map a
    named step over an array, reading ``{"order": [{"id": 1}]}`` as ``{"order": {"id": 1}}``
    (two inputs, one key); here a named step that meets an array, or an index that meets a
    value that is not an array, is an error (``Idempotency.InvalidKey``). A named step that
    meets a value that is not an object, or any step after a missing one, finds nothing: the
    field is missing. ``runtime/key_rules.select_fields`` reads paths by the same rule.
    """
    steps = []
    for step in path.split("."):
        if step.isdigit():
            refused = literal(index_without_array(path, step))
            steps.append(
                f"$v := $type($v) = 'array' ? $v[{step}] : $exists($v) ? $error({refused}) : $v;"
            )
        else:
            refused = literal(named_step_on_array(path, step))
            steps.append(f"$v := $type($v) = 'array' ? $error({refused}) : $v.`{step}`;")
    return f"($v := {input_expression}; {' '.join(steps)} $v)"


def field_selection(input_expression: str, paths: Sequence[str]) -> str:
    """JSONata for an object of the selected fields, by path (absent fields are left out).

    The paths are read one after another, so that of several paths that refuse the input the
    first names the error, as ``runtime/key_rules.select_fields`` says: JSONata 2.0.6 evaluates
    an object constructor's members concurrently, where the refusal with the fewest steps wins.
    """
    reads = " ".join(
        f"$field{index} := {field_path(input_expression, path)};"
        for index, path in enumerate(paths)
    )
    fields = ", ".join(f"{literal(path)}: $field{index}" for index, path in enumerate(paths))
    return f"({reads} {{{fields}}})"
