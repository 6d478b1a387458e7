"""JSON text as JavaScript writes it, for JSONata's ``$string`` (JSONata 2.0.6 runs on JavaScript).

The key port (``hashing.py``) writes numbers and strings with it as the key expression does.

Python's ``json`` module differs from ``JSON.stringify`` in ways that change a JSONata result:
it escapes every non-ASCII character (with ``ensure_ascii``) and writes numbers its own way
(``1e+16`` against ``10000000000000000``, ``1.0`` against ``1``, ``-0.0`` against ``0``).
JSONata's ``$string`` also rounds every number to 15 significant digits first.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

#: Characters ``JSON.stringify`` escapes: quote, backslash, controls and lone surrogates.
_ESCAPED: Final = re.compile('[\x00-\x1f"\\\\\ud800-\udfff]')
_SHORT_ESCAPES: Final = {
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}


def quote(text: str) -> str:
    """A JSON string literal for ``text``, escaped as ``JSON.stringify`` escapes it.

    Non-ASCII characters, U+2028 and U+2029 included, are written as they are.
    """

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"

    return '"' + _ESCAPED.sub(escape, text) + '"'


def number_text(number: float) -> str:
    """JavaScript's ``String(number)``: the shortest digits that read back as the same double.

    Integers up to 21 digits are written out (``1e+21`` after), small numbers down to 1e-6
    in decimal; Python ints are first rounded to a double, as JavaScript holds every number.
    """
    number = float(number)
    if number == 0:
        return "0"  # -0 too
    if number < 0:
        return "-" + number_text(-number)
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    text = "".join(map(str, digits))
    k = len(text)
    n = int(exponent) + k  # the decimal point sits after the first n digits
    if k <= n <= 21:
        return text + "0" * (n - k)
    if 0 < n <= 21:
        return text[:n] + "." + text[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + text
    mantissa = text if k == 1 else text[0] + "." + text[1:]
    return f"{mantissa}e{'+' if n > 0 else '-'}{abs(n - 1)}"


def to_precision_15(number: float) -> float:
    """``Number(number.toPrecision(15))``: rounded to 15 significant digits, halves away from 0."""
    exact = Decimal(float(number))
    if exact == 0:
        return 0.0
    step = Decimal(1).scaleb(exact.adjusted() - 14)
    return float(exact.quantize(step, rounding=ROUND_HALF_UP))
