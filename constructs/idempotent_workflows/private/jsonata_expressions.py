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

from ..runtime.hashing import HASH_CHUNK

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

# Canonical JSON: object keys sorted at every depth, so key order never changes a key.
_CANONICAL: Final = (
    "$canonical := function($v) {"
    " $type($v) = 'object'"
    " ? '{' & $join($map($sort($keys($v)), function($k) {"
    " $toJson($k) & ':' & $canonical($lookup($v, $k)) }), ',') & '}'"
    " : $type($v) = 'array'"
    " ? '[' & $join($map($v, function($e) { $canonical($e) }), ',') & ']'"
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


def _hashed(prefix: str, material: str) -> str:
    return f"({_TO_JSON} {_NUMBER} {_CANONICAL} {_DIGEST} {prefix}$digest($canonical({material})))"


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


def field_selection(input_expression: str, paths: Sequence[str]) -> str:
    """JSONata for an object of the selected fields, by path (absent fields are left out)."""
    fields = ", ".join(
        f"{literal(path)}: {input_expression}." + ".".join(f"`{p}`" for p in path.split("."))
        for path in paths
    )
    return f"{{{fields}}}"
