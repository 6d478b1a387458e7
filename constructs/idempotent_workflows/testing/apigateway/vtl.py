"""API Gateway's mapping-template variables (``$input``, ``$util``, ``$context``) for airspeed.

``airspeed-ext`` parses and runs AWS-flavoured VTL (Java string methods such as
``replaceAll`` and ``matches``, ``#set`` on nested maps); the variables that API Gateway
provides are not part of it, so they are here, each a small named piece.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

import airspeed

_PATH_STEP: Final = re.compile(r"\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_SHORT_ESCAPES: Final = {"\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}
_QUOTED_ESCAPES: Final = {"'": "\\'", '"': '\\"', "\\": "\\\\", "/": "\\/"}


def json_path(document: Any, path: str) -> Any:
    """Select from ``document`` with the JSONPath subset templates use: ``$``, ``.a``, ``[0]``.

    Returns ``None`` when a step finds nothing, as ``$input.path`` does.

    Raises
    ------
    ValueError
        If ``path`` is not of that subset (filters, wildcards, recursive descent).
    """
    if not path.startswith("$"):
        raise ValueError(f"A JSONPath starts with '$', got {path!r}")
    position, value = 1, document
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if step is None:
            raise ValueError(f"The local API supports $, .name, [index], ['name']; got {path!r}")
        position = step.end()
        name, index = step.group(1) or step.group(3) or step.group(4), step.group(2)
        if index is not None:
            value = (
                value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
            )
        else:
            value = value.get(name) if isinstance(value, dict) else None
    return value


def escape_java_script(text: Any) -> str:
    r"""``$util.escapeJavaScript``: Apache Commons Lang's ``escapeJavaScript``, as in AWS.

    Quotes, backslash and ``/`` get a backslash (``'`` too, which JSON does not accept);
    control characters and every non-ASCII UTF-16 unit become ``\uXXXX``.
    """
    units = str(text).encode("utf-16-be")
    out = []
    for high, low in zip(units[::2], units[1::2], strict=True):
        code = high << 8 | low
        char = chr(code) if not 0xD800 <= code <= 0xDFFF else ""
        if code > 0x7F or (code < 0x20 and char not in _SHORT_ESCAPES):
            out.append(f"\\u{code:04X}")
        else:
            out.append(_SHORT_ESCAPES.get(char) or _QUOTED_ESCAPES.get(char) or char)
    return "".join(out)


class TemplateUtil:
    """``$util``: the functions API Gateway offers mapping templates."""

    def escapeJavaScript(self, text: Any) -> str:  # noqa: N802 (the name templates call)
        """Escape ``text`` for a JavaScript (or, mostly, JSON) string literal."""
        return escape_java_script(text)

    def parseJson(self, text: str) -> Any:  # noqa: N802
        """Parse JSON text into values a template can navigate."""
        return json.loads(text)

    def urlEncode(self, text: str) -> str:  # noqa: N802
        """Form-encode ``text`` (spaces as ``+``), as Java's ``URLEncoder``."""
        return urllib.parse.quote_plus(text)

    def urlDecode(self, text: str) -> str:  # noqa: N802
        """Decode form-encoded ``text``."""
        return urllib.parse.unquote_plus(text)

    def base64Encode(self, text: str) -> str:  # noqa: N802
        """Base64 of the UTF-8 bytes of ``text``."""
        return base64.b64encode(text.encode()).decode()

    def base64Decode(self, text: str) -> str:  # noqa: N802
        """The UTF-8 text of base64 ``text``."""
        return base64.b64decode(text).decode()


class TemplateInput:
    """``$input``: the body being mapped and the method request's parameters.

    Parameters
    ----------
    body
        The request body (request templates) or the integration's answer (response ones).
    params
        ``{"path": {...}, "querystring": {...}, "header": {...}}`` of the method request.
    """

    def __init__(self, body: str, params: Mapping[str, Mapping[str, str]]) -> None:
        self.body = body
        self._params = params

    def _document(self) -> Any:
        return json.loads(self.body) if self.body.strip() else {}

    def json(self, path: str = "$") -> str:
        """The JSON text of what ``path`` selects in the body."""
        return json.dumps(json_path(self._document(), path))

    def path(self, path: str) -> Any:
        """The value ``path`` selects in the body, to navigate in the template."""
        return json_path(self._document(), path)

    def params(self, name: str | None = None) -> Any:
        """All parameters by kind; or the one named ``name`` (path, then query, then header).

        Header names match whatever their case, as HTTP defines them.
        """
        if name is None:
            return {kind: dict(values) for kind, values in self._params.items()}
        for kind in ("path", "querystring"):
            if name in self._params.get(kind, {}):
                return self._params[kind][name]
        headers = {key.lower(): value for key, value in self._params.get("header", {}).items()}
        return headers.get(name.lower(), "")


_COMPILED: Final = threading.local()


def render(template: str, *, input: TemplateInput, context: Mapping[str, Any]) -> str:
    """Render a mapping template with ``$input``, ``$util`` and ``$context``.

    ``context`` is read and written: ``#set($context.responseOverride.status = 409)`` lands
    in ``context["responseOverride"]["status"]``. Each template is parsed once per thread.
    """
    cache: dict[str, Any] = _COMPILED.__dict__.setdefault("cache", {})
    if template not in cache:
        cache[template] = airspeed.Template(template)
    text: str = cache[template].merge(
        {"input": input, "util": TemplateUtil(), "context": context, "stageVariables": {}}
    )
    return text
