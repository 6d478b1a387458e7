"""How an answer says whether it ran the work or came from the record.

``ReplayReport`` for a workflow's output, ``ReplayHeaders`` for ``IdempotentApi``'s response
headers. A duplicate returns the first run's output, byte for byte, as it should; without a
report, its caller cannot tell it from a run without reading the execution history (and
StartSyncExecution answers with no history at all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from .private.checks import describe

#: Field of ``ReplayReport.ENVELOPE``'s output that says whether the answer is a replay.
REPLAYED_FIELD: Final = "replayed"
#: Field of ``ReplayReport.ENVELOPE``'s output that holds the result.
RESULT_FIELD: Final = "result"
#: How the cause of a replayed stored failure (``Idempotency.ResultTooLarge``) begins, when the
#: workflow reports replays: a failed execution has no output to carry the flag.
REPLAYED_CAUSE_PREFIX: Final = "Replay of the stored failure: "


class ReplayReport(Enum):
    """Whether, and how, a workflow tells a replay from a run.

    A replay is an answer from the record: a duplicate's stored result (``ReturnStoredResult``),
    or the stored failure ``Idempotency.ResultTooLarge``. A run is the answer of the execution
    that ran the work (``StoreResult``).
    """

    #: The output is the result, replayed or not (the default: today's output, unchanged).
    NONE = "none"
    #: The output is the result, unchanged; the protocol's last state assigns the variable
    #: ``$idemReplayed`` (``$<variable_prefix>Replayed``; ``true`` for a replay, ``false`` for
    #: a run), for the states that follow an embedded ``IdempotencyProtocol``.
    VARIABLE = "variable"
    #: The output is ``{"replayed": <bool>, "result": <the result>}``: the caller of the
    #: execution (StartExecution, StartSyncExecution, a parent state machine) reads the flag.
    ENVELOPE = "envelope"


#: An HTTP field name that is also a VTL identifier (``$context.responseOverride.header.X``):
#: a letter, then letters, digits and hyphens.
_HEADER_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
#: Names the API already answers, or that API Gateway and HTTP reserve for themselves.
_TAKEN_NAMES: Final = frozenset(
    name.lower()
    for name in (
        "Content-Type",
        "Content-Length",
        "Retry-After",
        "Date",
        "Connection",
        "Transfer-Encoding",
        "Server",
        "Via",
        "Authorization",
        "WWW-Authenticate",
    )
)
_TAKEN_PREFIX: Final = "x-amz"


@dataclass(frozen=True)
class ReplayHeaders:
    """The response headers with which ``IdempotentApi`` says whether an answer is a replay.

    Parameters
    ----------
    replayed
        ``true`` on an answer from the record (a stored result, the stored failure
        ``Idempotency.ResultTooLarge``), ``false`` on the answer of a request that ran the
        work (its result or its error). Default ``"Idempotent-Replayed"`` (Stripe's name).
    key
        Echoes the idempotency key as the API used it (a Structured Fields string unescaped;
        never the caller that scopes it). Default ``"Idempotency-Key"``.

    Raises
    ------
    TypeError
        If a name is not a string.
    ValueError
        If a name is not a letter followed by letters, digits and hyphens (at most 128), is one
        the API or API Gateway already sets (``Content-Type``, ``Retry-After``, ``X-Amz...``,
        ...), or both names are the same.
    """

    replayed: str = "Idempotent-Replayed"
    key: str = "Idempotency-Key"

    def __post_init__(self) -> None:
        for prop in ("replayed", "key"):
            name = getattr(self, prop)
            if not isinstance(name, str):
                raise TypeError(
                    f"ReplayHeaders: {prop} must be a header name (a str), got {describe(name)}: "
                    f"pass for example {prop}='X-Idempotent-Replayed'."
                )
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(
                    f"ReplayHeaders: {prop} got {name!r}: a header name here is a letter, then "
                    "letters, digits and hyphens (at most 128 in all), such as "
                    "'Idempotent-Replayed', so that API Gateway's mapping template can set it."
                )
            if name.lower() in _TAKEN_NAMES or name.lower().startswith(_TAKEN_PREFIX):
                raise ValueError(
                    f"ReplayHeaders: {prop} got {name!r}, a header that the API or API Gateway "
                    "already sets: choose another name, such as 'Idempotent-Replayed'."
                )
        if self.replayed.lower() == self.key.lower():
            raise ValueError(
                f"ReplayHeaders: replayed and key are both {self.key!r}: one header cannot say "
                "both things; give them different names."
            )
