"""The VTL mapping templates of ``IdempotentApi``: request, integration responses, 400s.

API Gateway renders them; the local engine renders the same text, read back from the
synthesized template. Each builder returns the template text; the construct puts it into the
template.

A request template cannot answer by itself (only response templates set a status): a request
that breaks a rule (its key, its size) starts the workflow with an input that carries the
refusal and no key, so the execution ends at once in ``Idempotency.InvalidKey`` without
touching the table, and the response template answers the refusal's status.
"""

from __future__ import annotations

from typing import Final

from ..errors import IdempotencyError
from ..replay import REPLAYED_CAUSE_PREFIX, REPLAYED_FIELD, ReplayHeaders
from ..status_map import StatusMap
from .record import PAYLOAD_LIMIT_BYTES, REQUEST_INPUT_BYTES, RESULT_JSON_FIELD

#: The request header that carries the idempotency key (IETF httpapi draft-07's name).
KEY_HEADER: Final = "Idempotency-Key"
#: Execution input field holding the key (the workflow is keyed on it).
KEY_FIELD: Final = "idempotencyKey"
#: Execution input field holding the caller's identity, which scopes the key.
CALLER_FIELD: Final = "caller"
#: Execution input field holding the method and resource path, which scope the key when the
#: API keys on its route.
ROUTE_FIELD: Final = "route"
#: Execution input field holding the request body.
BODY_FIELD: Final = "body"
#: Execution input field of a request refused before its work could start (key, size).
REFUSAL_FIELD: Final = "refusal"
#: Prefixes of the error names with which the machinery (not the work) fails an execution.
MACHINERY_PREFIXES: Final = ("Idempotency.", "DynamoDB.")
#: Longest key, in characters after unescaping (Stripe's limit).
MAX_KEY_LENGTH: Final = 255

# Every special character of these regular expressions is a \xNN escape, so that they read
# the same in a VTL string literal, in Java (API Gateway) and in Python (the local engine).
#: A Structured Fields string (RFC 8941): printable ASCII in double quotes; only \" and \\.
SF_STRING: Final = r"\x22(?:[\x20\x21\x23-\x5B\x5D-\x7E]|\x5C[\x22\x5C])*\x22"
#: A bare token: visible ASCII but the double quote, the backslash and the comma (with which
#: HTTP joins repeated header fields): UUIDs, ULIDs, base64.
BARE_TOKEN: Final = r"[\x21\x23-\x2B\x2D-\x5B\x5D-\x7E]+"
#: The rule an invalid key breaks, as the 400 answer states it (never echoing the key).
KEY_RULE: Final = (
    f"An {KEY_HEADER} is 1 to {MAX_KEY_LENGTH} characters: a bare token of visible ASCII "
    "characters other than the double quote, the backslash and the comma (a UUID, for "
    "example), or a Structured Fields string: printable ASCII in double quotes, where only the "
    "double quote and the backslash are escaped, by a backslash."
)
#: A Step Functions assumed-role ARN without its session name: the role is the caller.
_ROLE_SESSION: Final = r"^(arn:[^:]+:sts::[0-9]+:assumed-role/[^/]+)/.*$"


def json_text(reference: str) -> str:
    r"""VTL for ``reference`` escaped as the inside of a JSON string.

    ``$util.escapeJavaScript`` escapes ``'`` as ``\\'``, which JSON rejects; the replace
    undoes that one escape.
    """
    return f'$util.escapeJavaScript({reference}).replaceAll("\\\\\'", "\'")'


def json_quote(text: str) -> str:
    """A JSON string literal for ``text`` that is also safe in a VTL single-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\u0027") + '"'


def _refuse(status: int, error: IdempotencyError, message: str) -> str:
    """VTL that notes a refusal: its status, error name and message, as JSON text."""
    refusal = ", ".join(
        f"{json_quote(name)}: {value}"
        for name, value in (
            ("status", str(status)),
            ("error", json_quote(error.value)),
            ("message", json_quote(message)),
        )
    )
    return f"#set($refusal = '{{{refusal}}}')"


def _key_lines(*, require_key: bool) -> list[str]:
    """VTL that sets ``$key`` from the header only, or ``$refusal`` when the key breaks the rule.

    The header is found whatever the case of its name (HTTP/2 clients send it in lower case);
    the query string and the path are never read (``$input.params('x')`` would search them
    first). Spaces and tabs around the value are ignored.
    """
    lines = [
        "#set($headers = $input.params().header)",
        "#set($raw = '')",
        "#set($found = 0)",
        "#foreach($name in $headers.keySet())",
        f"#if($name.equalsIgnoreCase('{KEY_HEADER}'))",
        "#set($raw = $headers.get($name).trim())",
        "#set($found = $found + 1)",
        "#end",
        "#end",
        "#set($refusal = '')",
        "#set($key = '')",
        "#if($found > 1)",
        _refuse(
            StatusMap.INVALID_REQUEST,
            IdempotencyError.INVALID_KEY,
            f"Send one {KEY_HEADER} header, not several.",
        ),
        f"#elseif($raw.matches('{SF_STRING}'))",
        "#set($last = $raw.length() - 1)",
        "#set($key = $raw.substring(1, $last).replaceAll('\\x5C([\\x22\\x5C])', '$1'))",
        f"#elseif($raw.matches('{BARE_TOKEN}'))",
        "#set($key = $raw)",
        "#end",
    ]
    if not require_key:
        # Without the header, the request is keyed on its own id: it always runs.
        lines += ["#if($found == 0)", "#set($key = $context.requestId)", "#end"]
    lines += [
        f"#if($refusal == '' && ($key.length() == 0 || $key.length() > {MAX_KEY_LENGTH}))",
        _refuse(StatusMap.INVALID_REQUEST, IdempotencyError.INVALID_KEY, KEY_RULE),
        "#end",
    ]
    return lines


def _caller_lines() -> list[str]:
    """VTL that sets ``$callerText``: who sent the request, which scopes the key.

    The IAM principal (an assumed role's ARN without its session name, which changes with each
    new session of the same role), the Cognito identity and the API key, where present.
    """
    return [
        '#set($principal = "$!context.identity.userArn")',
        f"#set($principal = $principal.replaceAll('{_ROLE_SESSION}', '$1'))",
        '#set($caller = "$principal $!context.identity.cognitoIdentityId'
        ' $!context.identity.apiKeyId")',
        f"#set($callerText = {json_text('$caller')})",
    ]


def request_template(
    state_machine_arn: str, *, require_key: bool, key_includes_route: bool, scope_to_caller: bool
) -> str:
    """The StartSyncExecution request: the key from the header, its scope, the body.

    The scope is the caller (``scope_to_caller``) and the method and resource path
    (``key_includes_route``), each in a field of its own, so that the key field holds the key
    as the client sent it (unescaped), which the response echoes.

    The header's value may be a bare token (``abc``) or a Structured Fields string
    (``"abc"``, as draft-07 writes it), which is unescaped. A key that breaks the rule
    (``KEY_RULE``), several headers, or an execution input over Step Functions' 256 KiB start
    an execution that carries the refusal instead of the key and the body.
    """
    lines = _key_lines(require_key=require_key)
    scope = ""
    if scope_to_caller:
        lines += _caller_lines()
        scope += f"${{q}}{CALLER_FIELD}${{q}}: ${{q}}${{callerText}}${{q}}, "
    if key_includes_route:
        route = "$context.httpMethod $context.resourcePath"
        scope += f"${{q}}{ROUTE_FIELD}${{q}}: ${{q}}{route}${{q}}, "
    lines += [
        "#set($q = '\"')",
        f"#set($keyText = {json_text('$key')})",
        "#set($body = $input.json('$'))",
        f'#set($executionInput = "{{{scope}${{q}}{KEY_FIELD}${{q}}: ${{q}}${{keyText}}${{q}}, '
        f'${{q}}{BODY_FIELD}${{q}}: ${{body}}}}")',
        # UTF-8 bytes of the input: urlEncode writes each byte it encodes as three characters.
        "#if($refusal == '')",
        "#set($encoded = $util.urlEncode($executionInput))",
        "#set($escapes = $encoded.length() - $encoded.replace('%', '').length())",
        "#set($bytes = $encoded.length() - 2 * $escapes)",
        f"#if($bytes > {REQUEST_INPUT_BYTES})",
        _refuse(
            StatusMap.BODY_TOO_LARGE,
            IdempotencyError.BODY_TOO_LARGE,
            f"The request body is too large: with the key, it must fit in "
            f"{REQUEST_INPUT_BYTES} bytes of UTF-8 (a Step Functions state takes "
            f"{PAYLOAD_LIMIT_BYTES}, less room for the work's parameters).",
        ),
        "#end",
        "#end",
        "#if($refusal != '')",
        f'#set($executionInput = "{{${{q}}{REFUSAL_FIELD}${{q}}: $refusal}}")',
        "#end",
        f'{{"stateMachineArn": "{state_machine_arn}", "input": "{json_text("$executionInput")}"}}',
    ]
    return "\n".join(lines)


def _error_body() -> str:
    return (
        f'{{"status": "$status", "error": "{json_text("$error")}", '
        f'"cause": "{json_text("$cause")}"}}'
    )


def _retry_after_lines(fallback_seconds: int) -> list[str]:
    """VTL that sets ``$retryAfter``: the seconds until the holder's lease ends.

    ``Idempotency.LockWaitTimeout``'s cause says "its lease ends in N s": at that time the key
    is done or free (the lease is longer than the work). Without it, the poll interval.
    """
    return [
        f"#set($retryAfter = '{fallback_seconds}')",
        "#set($leaseLeft = $cause.replaceAll('^.*lease ends in ([0-9]+) s.*$', '$1'))",
        "#if($leaseLeft.matches('[0-9]+') && $leaseLeft != '0')",
        "#set($retryAfter = $leaseLeft)",
        "#end",
    ]


def _replay_lines() -> list[str]:
    """VTL for a replayed stored failure: ``$replayed`` from its cause, and the cause as stored.

    A workflow that reports replays begins a replayed stored failure's cause with
    ``REPLAYED_CAUSE_PREFIX``; the answer's body is the first answer's, without it.
    """
    prefix = REPLAYED_CAUSE_PREFIX
    return [
        f"#if($cause.startsWith('{prefix}'))",
        "#set($replayed = 'true')",
        f"#set($cause = $cause.substring({len(prefix)}))",
        "#else",
        "#set($replayed = 'false')",
        "#end",
    ]


def execution_response_template(statuses: StatusMap, headers: ReplayHeaders) -> str:
    """The answer to a StartSyncExecution that ran: its output, or its error as a status.

    StartSyncExecution answers HTTP 200 whether the execution succeeded or failed; this
    template reads ``status`` and ``error`` and sets the status code. A result is answered as
    the record stores its JSON text (the workflow's ``resultJson``): the same bytes the first
    time and on every retry. A refused request (the ``refusal`` of the execution input)
    answers its own status.

    The answers that are the key's outcome say whether they come from the record, in
    ``headers.replayed``: a result (the workflow's ``replayed``), a work error (``false``: a
    failure is not stored, so its request ran the work) and ``Idempotency.ResultTooLarge``
    (``true`` when its cause says it is the stored one). A refusal, 409, 422, a failure of
    the machinery and a timeout are not an outcome of the key, and carry no flag. Every answer
    of an execution that had a key echoes it in ``headers.key``. Each override is set once, at
    the end: API Gateway refuses a second one.
    """
    work_error = "#set($replayed = 'false')"
    # (condition, status, VTL run on that branch besides setting the status)
    branches: list[tuple[str, int, list[str]]] = [
        ("$status == 'TIMED_OUT'", statuses.TIMED_OUT, []),
        (
            f"$error == '{IdempotencyError.PAYLOAD_MISMATCH.value}'",
            statuses.PAYLOAD_MISMATCH,
            [],
        ),
        (
            f"$error == '{IdempotencyError.LOCK_WAIT_TIMEOUT.value}'",
            statuses.IN_PROGRESS,
            _retry_after_lines(statuses.retry_after_seconds),
        ),
        (f"$error == '{IdempotencyError.INVALID_KEY.value}'", statuses.INVALID_REQUEST, []),
        *(
            (f"$error == '{name}'", status, [work_error])
            for name, status in statuses.errors.items()
        ),
        (
            f"$error == '{IdempotencyError.RESULT_TOO_LARGE.value}'",
            statuses.MACHINERY_ERROR,
            _replay_lines(),
        ),
        (
            " || ".join(f"$error.startsWith('{prefix}')" for prefix in MACHINERY_PREFIXES),
            statuses.MACHINERY_ERROR,
            [],
        ),
    ]
    lines = [
        "#set($status = $input.path('$.status'))",
        "#set($retryAfter = '')",
        "#set($replayed = '')",
        "#set($key = '')",
        # The execution input: the key it ran with, or the refusal of the request.
        "#set($sent = \"$!input.path('$.input')\")",
        "#if($sent == '')",
        "#set($sent = '{}')",
        "#end",
        "#set($sent = $util.parseJson($sent))",
        f"#if($sent.containsKey('{KEY_FIELD}'))",
        f"#set($key = $sent.{KEY_FIELD})",
        "#end",
        "#if($status == 'SUCCEEDED')",
        f"#set($code = {statuses.success})",
        "#set($answer = $util.parseJson($input.path('$.output')))",
        f"#if($answer.{REPLAYED_FIELD})",
        "#set($replayed = 'true')",
        "#else",
        "#set($replayed = 'false')",
        "#end",
        f"$answer.{RESULT_JSON_FIELD}",
        "#else",
        "#set($error = \"$!input.path('$.error')\")",
        "#set($cause = \"$!input.path('$.cause')\")",
        # A Lambda function's error cause is JSON with its stack trace: answer the message only.
        "#if($cause.matches('\\{.*\"errorMessage\".*\\}'))",
        "#set($cause = $util.parseJson($cause).errorMessage)",
        "#end",
    ]
    for index, (condition, status, extra) in enumerate(branches):
        lines.append(f"#{'if' if index == 0 else 'elseif'}({condition})")
        lines.append(f"#set($code = {status})")
        lines += extra
    lines += [
        "#else",
        f"#set($code = {statuses.work_error})",
        work_error,
        "#end",
        f"#if($sent.containsKey('{REFUSAL_FIELD}'))",
        f"#set($code = $sent.{REFUSAL_FIELD}.status)",
        f"#set($error = $sent.{REFUSAL_FIELD}.error)",
        f"#set($cause = $sent.{REFUSAL_FIELD}.message)",
        "#end",
        _error_body(),
        "#end",
        "#set($context.responseOverride.status = $code)",
        "#if($retryAfter != '')",
        "#set($context.responseOverride.header.Retry-After = $retryAfter)",
        "#end",
        "#if($replayed != '')",
        f"#set($context.responseOverride.header.{headers.replayed} = $replayed)",
        "#end",
        "#if($key != '')",
        f"#set($context.responseOverride.header.{headers.key} = $key)",
        "#end",
    ]
    return "\n".join(lines)


def start_failed_template() -> str:
    """The answer when StartSyncExecution itself answered an error (throttled, refused).

    An input that Step Functions does not take as JSON (a number out of range that the gateway
    wrote as ``Infinity``) or as a payload (over 256 KiB) is the client's mistake: 400 or 413.
    Anything else is the service's: 502.
    """
    return "\n".join(
        [
            "#set($status = 'NOT_STARTED')",
            "#set($type = \"$!input.path('$.__type')\")",
            "#set($message = \"$!input.path('$.message')\")",
            "#if($type.endsWith('InvalidExecutionInput'))",
            f"#set($error = '{IdempotencyError.INVALID_BODY.value}')",
            "#set($cause = 'The request body is not JSON that Step Functions accepts.')",
            f"#set($context.responseOverride.status = {StatusMap.INVALID_REQUEST})",
            "#elseif($type.endsWith('ValidationException') && $message.contains(\"'input'\"))",
            f"#set($error = '{IdempotencyError.BODY_TOO_LARGE.value}')",
            "#set($cause = 'The request body is too large for a Step Functions execution.')",
            f"#set($context.responseOverride.status = {StatusMap.BODY_TOO_LARGE})",
            "#else",
            f"#set($error = '{IdempotencyError.START_FAILED.value}')",
            '#set($cause = "$type: $message")',
            "#end",
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
    '"message": "The request body must be a JSON object (JSON has no NaN or Infinity)."}'
)
