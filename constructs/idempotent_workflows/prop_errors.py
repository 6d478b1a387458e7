"""Prop errors of the library's pieces, raised in the name of the construct that uses them."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Final

#: What names a piece in the library's prop errors: ``queue_with_dead_letters`` or
#: ``wait_for_callback('WaitForWarehouse')``, before the first ``": "``.
_PIECE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\([^()]*\))?")


@contextlib.contextmanager
def errors_as(owner: str, **renamed: str) -> Iterator[None]:
    """Raise the prop errors of the pieces built inside as ``owner``'s, props renamed.

    A construct that passes its own props on to the library's pieces (``wait_for_callback``,
    ``queue_with_dead_letters``, ...) builds them inside this block, so that a bad prop is
    reported as the user wrote it: the construct they called and their prop's name.

    Parameters
    ----------
    owner
        The construct the user called, for example ``"OrderFlowStack"``.
    **renamed
        The pieces' prop names and the owner's names for them, for example
        ``timeout="warehouse_timeout"``.

    Raises
    ------
    TypeError, ValueError
        A piece's prop error, its piece replaced by ``owner`` and each renamed prop by the
        owner's name (the original is chained). Other errors pass unchanged.

    Examples
    --------
    >>> with errors_as("OrderFlowStack", timeout="warehouse_timeout"):   # doctest: +SKIP
    ...     wait = wait_for_callback(self, "Wait", queue=queue, message=m, timeout=timeout)
    """
    try:
        yield
    except (TypeError, ValueError) as error:
        piece, separator, message = str(error).partition(": ")
        if not separator or not _PIECE.fullmatch(piece):
            raise
        for prop, name in renamed.items():
            message = re.sub(rf"\b{re.escape(prop)}\b", name, message)
        raise type(error)(f"{owner}: {message}") from error
