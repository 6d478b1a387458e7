"""The VTL mapping templates of ``IdempotentApi``: request, integration responses, 400s.

API Gateway renders them; the local engine renders the same text, read back from the
synthesized template (``idempotent_workflows.testing.api_server``). Each builder returns the
template text; the construct puts it into the template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Final

from .record import IdempotencyError

#: The request header that carries the idempotency key (IETF httpapi draft-07's name).
KEY_HEADER: Final = "Idempotency-Key"
#: Execution input field holding the key (the workflow is keyed on it).
KEY_FIELD: Final = "idempotencyKey"
#: Execution input field holding the request body.
BODY_FIELD: Final = "body"
#: Error name in the body of a 502 answer when StartSyncExecution itself was refused.
START_FAILED: Final = "Idempotency.StartFailed"
#: Prefixes of the error names with which the machinery (not the work) fails an execution.
MACHINERY_PREFIXES: Final = ("Idempotency.", "DynamoDB.")


def json_text(reference: str) -> str:
    r"""VTL for ``reference`` escaped as the inside of a JSON string.

    ``$util.escapeJavaScript`` escapes ``'`` as ``\\'``, which JSON rejects; the replace
    undoes that one escape.
    """
    return f'$util.escapeJavaScript({reference}).replaceAll("\\\\\'", "\'")'


def request_template(state_machine_arn: str, *, require_key: bool, key_includes_route: bool) -> str:
    """The StartSyncExecution request: the key from the header and the body, as the input.

    The header's value may be a bare token (``abc``) or a Structured Fields string
    (``"abc"``, as draft-07 writes it): the quotes are dropped. Without a required header, a
    request without one is keyed on its own request id (it is never a duplicate).
    """
    lines = [
        f"#set($key = $input.params('{KEY_HEADER}'))",
        "#if($key.matches('^\".*\"$'))",
        "#set($last = $key.length() - 1)",
        "#set($key = $key.substring(1, $last))",
        "#end",
    ]
    if not require_key:
        lines += ['#if("$!key" == "")', "#set($key = $context.requestId)", "#end"]
    if key_includes_route:
        lines.append('#set($key = "$context.httpMethod $context.resourcePath $key")')
    lines += [
        "#set($q = '\"')",
        f"#set($keyText = {json_text('$key')})",
        "#set($body = $input.json('$'))",
        f'#set($executionInput = "{{${{q}}{KEY_FIELD}${{q}}: ${{q}}${{keyText}}${{q}}, '
        f'${{q}}{BODY_FIELD}${{q}}: ${{body}}}}")',
        f'{{"stateMachineArn": "{state_machine_arn}", "input": "{json_text("$executionInput")}"}}',
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class StatusMap:
    """Which HTTP status answers which outcome of the synchronous execution.

    Attributes
    ----------
    success
        A result, fresh or stored.
    work_error
        The work failed with an error that ``errors`` does not name.
    errors
        Status of particular work error names, for example ``{"Payment.Declined": 402}``.
    retry_after_seconds
        The ``Retry-After`` of a 409 (the key is still held by another request).
    """

    success: int = 200
    work_error: int = 500
    errors: Mapping[str, int] = field(default_factory=dict)
    retry_after_seconds: int = 1

    #: Same key, other payload (draft-07: 422).
    PAYLOAD_MISMATCH: ClassVar[int] = 422
    #: The key's first request still runs after the poll bound (draft-07: 409).
    IN_PROGRESS: ClassVar[int] = 409
    #: The machinery failed, or StartSyncExecution refused the request.
    MACHINERY_ERROR: ClassVar[int] = 502
    #: The execution ran out of time.
    TIMED_OUT: ClassVar[int] = 504

    def statuses(self) -> list[int]:
        """Every status an answer may have, for the method responses."""
        fixed = [self.PAYLOAD_MISMATCH, self.IN_PROGRESS, self.MACHINERY_ERROR, self.TIMED_OUT]
        return sorted({self.success, self.work_error, 400, *self.errors.values(), *fixed})


def _error_body() -> str:
    return (
        f'{{"status": "$status", "error": "{json_text("$error")}", '
        f'"cause": "{json_text("$cause")}"}}'
    )


def execution_response_template(statuses: StatusMap) -> str:
    """The answer to a StartSyncExecution that ran: its output, or its error as a status.

    StartSyncExecution answers HTTP 200 whether the execution succeeded or failed; this
    template reads ``status`` and ``error`` and overrides the status code.
    """
    override = "#set($context.responseOverride.status = {})"
    branches = [
        ("$status == 'TIMED_OUT'", statuses.TIMED_OUT),
        (f"$error == '{IdempotencyError.PAYLOAD_MISMATCH.value}'", statuses.PAYLOAD_MISMATCH),
        (f"$error == '{IdempotencyError.LOCK_WAIT_TIMEOUT.value}'", statuses.IN_PROGRESS),
        *((f"$error == '{name}'", status) for name, status in statuses.errors.items()),
        (
            " || ".join(f"$error.startsWith('{prefix}')" for prefix in MACHINERY_PREFIXES),
            statuses.MACHINERY_ERROR,
        ),
    ]
    lines = [
        "#set($status = $input.path('$.status'))",
        "#if($status == 'SUCCEEDED')",
        override.format(statuses.success),
        "$input.path('$.output')",
        "#else",
        "#set($error = \"$!input.path('$.error')\")",
        "#set($cause = \"$!input.path('$.cause')\")",
        # A Lambda function's error cause is JSON with its stack trace: answer the message only.
        "#if($cause.matches('\\{.*\"errorMessage\".*\\}'))",
        "#set($cause = $util.parseJson($cause).errorMessage)",
        "#end",
    ]
    for index, (condition, status) in enumerate(branches):
        lines.append(f"#{'if' if index == 0 else 'elseif'}({condition})")
        lines.append(override.format(status))
        if status == statuses.IN_PROGRESS:
            lines.append(
                "#set($context.responseOverride.header.Retry-After = "
                f"'{statuses.retry_after_seconds}')"
            )
    lines += ["#else", override.format(statuses.work_error), "#end", _error_body(), "#end"]
    return "\n".join(lines)


def start_failed_template() -> str:
    """The answer when StartSyncExecution itself answered an error (throttled, refused)."""
    return "\n".join(
        [
            "#set($status = 'NOT_STARTED')",
            f"#set($error = '{START_FAILED}')",
            "#set($cause = \"$!input.path('$.__type'): $!input.path('$.message')\")",
            _error_body(),
        ]
    )


#: The 400 answer to a request without the Idempotency-Key header.
MISSING_KEY_TEMPLATE: Final = (
    '{"error": "Idempotency.KeyMissing", "message": "$context.error.validationErrorString. '
    f"Send an {KEY_HEADER} header: one unique value per operation, the same on each retry "
    'of it."}'
)
#: The 400 answer to a request whose body is not a JSON object.
INVALID_BODY_TEMPLATE: Final = (
    '{"error": "Idempotency.InvalidBody", "message": "The request body must be a JSON object."}'
)
