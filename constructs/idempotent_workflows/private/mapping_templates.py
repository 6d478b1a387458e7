"""The VTL mapping templates of ``IdempotentApi``: request, integration responses, 400s.

API Gateway renders them; the local engine renders the same text, read back from the
synthesized template. Each builder returns the template text; the construct puts it into the
template.
"""

from __future__ import annotations

from typing import Final

from ..errors import IdempotencyError
from ..status_map import StatusMap

#: The request header that carries the idempotency key (IETF httpapi draft-07's name).
KEY_HEADER: Final = "Idempotency-Key"
#: Execution input field holding the key (the workflow is keyed on it).
KEY_FIELD: Final = "idempotencyKey"
#: Execution input field holding the request body.
BODY_FIELD: Final = "body"
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
            f"#set($error = '{IdempotencyError.START_FAILED.value}')",
            "#set($cause = \"$!input.path('$.__type'): $!input.path('$.message')\")",
            _error_body(),
        ]
    )


#: The 400 answer to a request without the Idempotency-Key header.
MISSING_KEY_TEMPLATE: Final = (
    f'{{"error": "{IdempotencyError.KEY_MISSING.value}", '
    '"message": "$context.error.validationErrorString. '
    f"Send an {KEY_HEADER} header: one unique value per operation, the same on each retry "
    'of it."}'
)
#: The 400 answer to a request whose body is not a JSON object.
INVALID_BODY_TEMPLATE: Final = (
    f'{{"error": "{IdempotencyError.INVALID_BODY.value}", '
    '"message": "The request body must be a JSON object."}'
)
