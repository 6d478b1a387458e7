"""The idempotency key's hash in Python, exactly as the state machine computes it in JSONata.

A port of the key expression (``private/jsonata_expressions.py``: ``_TO_JSON``, ``_NUMBER``,
``_CANONICAL``, ``_DIGEST``), with the semantics of JSONata 2.0.6 that Step Functions follows:

- every number is a double (a Python int is rounded to one, as ``JSON.parse`` rounds it);
  ``$string`` keeps 15 significant digits, the remainder it drops follows after ``~``, and
  magnitudes above 1e300 are scaled by 2^100 first;
- strings are quoted as ``JSON.stringify`` quotes them (lone surrogates escaped, every other
  non-ASCII character kept);
- object keys are sorted by UTF-16 code units, as ``$sort`` compares strings;
- ``$length`` and ``$substring`` count code points, so text is hashed in chunks of
  ``HASH_CHUNK`` code points; ``$hash`` refuses more than 10,000 UTF-16 code units.

``tests/test_runtime_keys.py`` proves the port equal to npm jsonata 2.0.6 evaluating the key
expression the library synthesizes.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any, Final

from ..errors import IdempotencyError
from .javascript_json import number_text, quote, to_precision_15

#: Largest text handed to one ``$hash`` call, in code points; longer key material is hashed as
#: the hash of its chunks' hashes (Step Functions' hash functions take at most 10,000
#: characters).
HASH_CHUNK: Final = 8000
#: ``$hash`` refuses longer text, counted in UTF-16 code units as JavaScript counts length.
HASH_INPUT_LIMIT: Final = 10_000
#: Deepest nesting the key expression reads: a value inside more arrays and objects than this
#: fails the key (``Idempotency.InvalidKey``), the same in Step Functions and on the local
#: engine, whose evaluator would stop with its own error near 260 levels.
MAX_DEPTH: Final = 100
#: What the workflow says when the key material or the validated fields nest deeper.
TOO_DEEP: Final = f"The input is nested deeper than {MAX_DEPTH} levels of arrays and objects."
#: Numbers of larger magnitude are divided by 2^100 (exactly) before they are written.
_SCALED_ABOVE: Final = 1e300
_TWO_TO_100: Final = float(2**100)


class InvalidKeyError(ValueError):
    """The input has no idempotency key: the workflow fails it with ``Idempotency.InvalidKey``.

    Raised before anything is sent, for an input that the state machine would refuse without
    running the work. The message says what is wrong and how to fix it.

    Attributes
    ----------
    error : str
        ``"Idempotency.InvalidKey"``, the error name the workflow ends with.
    """

    error: Final = IdempotencyError.INVALID_KEY.value


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value``, as the key expression writes it.

    Object keys are sorted at every depth, so two values that differ only in key order have
    the same text, and every double has its own text.

    Parameters
    ----------
    value
        A JSON value as ``json.loads`` returns it: dicts with string keys, lists (or tuples),
        strings, ints, floats, booleans and ``None``.

    Raises
    ------
    InvalidKeyError
        If ``value`` nests deeper than ``MAX_DEPTH`` arrays and objects.
    TypeError
        If ``value`` holds something that is not JSON (bytes, a set, a non-string key...).
    ValueError
        If a number is not finite, or an int is too large for a double.
    """
    return _canonical(value, 0)


def _canonical(value: Any, depth: int) -> str:
    """``$canonical($v, $d)``: ``depth`` counts the arrays and objects around ``value``."""
    if depth > MAX_DEPTH:
        raise InvalidKeyError(TOO_DEEP)
    if isinstance(value, Mapping):
        members = sorted(
            ((_javascript_string(_key(name)), item) for name, item in value.items()),
            key=lambda member: _utf16_units(member[0]),
        )
        return (
            "{"
            + ",".join(f"{quote(name)}:{_canonical(item, depth + 1)}" for name, item in members)
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(_canonical(item, depth + 1) for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(_double(value))
    if isinstance(value, str):
        return quote(_javascript_string(value))
    raise TypeError(
        f"Not a JSON value: got {type(value).__name__} {value!r}; pass what json.loads returns "
        "for the execution input."
    )


def digest(text: str) -> str:
    """SHA-256 (hex) of ``text``, as ``$digest`` hashes it.

    Directly up to ``HASH_CHUNK`` code points, else the hash of ``"chunks:"`` followed by each
    chunk's hash.

    Raises
    ------
    InvalidKeyError
        If a chunk is longer than ``$hash`` accepts (text rich in characters outside the Basic
        Multilingual Plane, which count twice).
    """
    if len(text) <= HASH_CHUNK:
        return _hash(text)
    chunks = (text[start : start + HASH_CHUNK] for start in range(0, len(text), HASH_CHUNK))
    return _hash("chunks:" + "".join(map(_hash, chunks)))


def fingerprint(material: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``material``.

    The protocol stores it as the record's ``payloadhash`` (of the payload fields), and it is
    the hex part of every record id.

    Raises
    ------
    InvalidKeyError
        If the canonical JSON is too long for Step Functions' ``$hash``.
    """
    return digest(canonical_json(material))


def record_id(namespace: str, material: Any) -> str:
    """The record id of ``material``: ``<namespace>#<fingerprint of material>``.

    Parameters
    ----------
    namespace
        The protocol's key namespace (``IdempotencyProtocol.key_namespace``).
    material
        The key material: what the key mode selects from the input (``KeyRule.material``).

    Raises
    ------
    InvalidKeyError
        If the canonical JSON is too long for Step Functions' ``$hash``.
    """
    return f"{namespace}#{fingerprint(material)}"


def _hash(text: str) -> str:
    units = _utf16_length(text)
    if units > HASH_INPUT_LIMIT:
        raise InvalidKeyError(
            f"The key material is too long to hash: its canonical JSON has a chunk of {units} "
            f"UTF-16 code units, and Step Functions' $hash takes at most {HASH_INPUT_LIMIT} "
            "(characters outside the Basic Multilingual Plane count twice): key on fewer or "
            "shorter fields."
        )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _number(number: float) -> str:
    """``$numberText``: 15 significant digits, then the remainder they dropped after ``~``."""
    if number == 0:
        return "0"  # -0 too
    if abs(number) > _SCALED_ABOVE:
        return _number(number / _TWO_TO_100) + "*2^100"
    text = _jsonata_string(number)
    rest = number - float(text)
    return text if rest == 0 else f"{text}~{_jsonata_string(rest)}"


def _jsonata_string(number: float) -> str:
    """``$string(number)``: rounded to 15 significant digits, written as JavaScript does."""
    return number_text(to_precision_15(number))


def _double(number: int | float) -> float:
    try:
        double = float(number)
    except OverflowError:
        double = math.inf
    if not math.isfinite(double):
        raise ValueError(
            f"Not a finite JSON number: got {number!r}; JSON has no NaN or infinity, and "
            "Step Functions reads every number as a double."
        )
    return double


def _key(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"Not a JSON object key: got {type(name).__name__} {name!r}")
    return name


def _javascript_string(text: str) -> str:
    """``text`` as JavaScript holds it: a surrogate pair kept as two code points is joined."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _utf16_units(text: str) -> bytes:
    """Big-endian UTF-16: comparing these bytes compares code units, as JavaScript does."""
    return text.encode("utf-16-be", "surrogatepass")


def _utf16_length(text: str) -> int:
    return len(_utf16_units(text)) // 2
