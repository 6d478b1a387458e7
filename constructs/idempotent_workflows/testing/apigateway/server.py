"""Serve a synthesized REST API (StartSyncExecution integrations) on 127.0.0.1, like API Gateway.

``ApiServer`` reads the API from the synthesized template (resources, methods, validators,
models, mapping templates, gateway responses), renders the templates found there with
airspeed (``vtl.render``) and calls StartSyncExecution through the callable it is given. Only
what ``IdempotentApi`` uses is reproduced: AWS integrations of ``states:StartSyncExecution``,
IAM authorization as far as who signed (an unsigned request to an ``AWS_IAM`` method is
refused; the caller is the access key's principal; the signature itself is not checked),
required-header and body-type validation, integration responses chosen by selection pattern,
response overrides, gateway responses and the stage's access log lines. A required API key
must be present, whatever its value.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from ..deploy.template import Environment, resolve
from ..run.contents import strict_json
from .vtl import TemplateInput, render

#: Runs a StartSyncExecution request body; answers (HTTP status, JSON body) as the service does.
StartSyncExecution = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]

_INTEGRATION_ACTION: Final = ":states:action/StartSyncExecution"
_JSON: Final = "application/json"
_HEADER_PARAMETER: Final = "method.request.header."
_RESPONSE_HEADER: Final = "method.response.header."
_MISSING_TOKEN: Final = '{"message":"Missing Authentication Token"}'
#: The access key id in a SigV4 ``Authorization`` header.
_CREDENTIAL: Final = re.compile(r"Credential=([A-Za-z0-9]+)/")
#: A ``$context`` variable in an access log format (``$context.responseOverride.header.X``).
_LOG_VARIABLE: Final = re.compile(r"\$context\.([A-Za-z][A-Za-z0-9_.-]*[A-Za-z0-9_])")
#: What an access log line holds for a variable without a value.
_NO_VALUE: Final = "-"
#: The access key ``post_json`` signs with unless told otherwise (any key will do locally).
LOCAL_ACCESS_KEY: Final = "LOCALCALLER"


@dataclass(frozen=True)
class Response:
    """An HTTP answer of the local API.

    Attributes
    ----------
    status
        The status code.
    headers
        Response headers.
    body
        The body text.
    """

    status: int
    headers: dict[str, str]
    body: str


@dataclass(frozen=True)
class Route:
    """One method of the API, with what API Gateway needs to answer it."""

    http_method: str
    resource_path: str
    method: dict[str, Any]
    validator: dict[str, Any] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)

    def matches(self, http_method: str, path: str) -> bool:
        """Whether a request for ``http_method path`` (stage removed) is this route's."""
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(self.resource_path))
        return self.http_method in (http_method, "ANY") and re.fullmatch(pattern, path) is not None


def _ref(value: Any) -> str:
    """The logical id a ``Ref`` (or ``Fn::GetAtt``) names."""
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


@dataclass(frozen=True)
class RestApiDefinition:
    """The REST API of a synthesized template, as the local server needs it.

    Attributes
    ----------
    stage_name
        The stage the server answers on (``/<stage>/...``).
    routes
        Every method.
    gateway_responses
        Gateway responses by type (``BAD_REQUEST_PARAMETERS``, ...).
    access_log_format
        The stage's access log format (``$context`` variables in text), or None without
        access logs.
    """

    stage_name: str
    routes: list[Route]
    gateway_responses: dict[str, dict[str, Any]]
    access_log_format: str | None = None

    @classmethod
    def from_template(cls, template: Mapping[str, Any], env: Environment) -> RestApiDefinition:
        """Read the one REST API of ``template``; intrinsics resolve in ``env``.

        Raises
        ------
        LookupError
            If the template has no REST API or more than one.
        """
        resources: dict[str, dict[str, Any]] = template["Resources"]

        def of_type(kind: str) -> dict[str, dict[str, Any]]:
            return {
                logical_id: resource.get("Properties", {})
                for logical_id, resource in resources.items()
                if resource["Type"] == f"AWS::ApiGateway::{kind}"
            }

        apis = of_type("RestApi")
        if len(apis) != 1:
            raise LookupError(f"Expected one AWS::ApiGateway::RestApi, found {sorted(apis)}")
        paths = {next(iter(apis)): ""}
        pending = of_type("Resource")
        while pending:
            logical_id, resource = next(
                (key, value) for key, value in pending.items() if _ref(value["ParentId"]) in paths
            )
            paths[logical_id] = f"{paths[_ref(resource['ParentId'])]}/{resource['PathPart']}"
            del pending[logical_id]
        validators, models = of_type("RequestValidator"), of_type("Model")
        routes = [
            Route(
                http_method=method["HttpMethod"],
                resource_path=paths[_ref(method["ResourceId"])] or "/",
                method={**method, "Integration": resolve(method["Integration"], env)},
                validator=validators.get(_ref(method.get("RequestValidatorId", {"Ref": ""})), {}),
                models={
                    content_type: models[_ref(model)].get("Schema", {})
                    for content_type, model in method.get("RequestModels", {}).items()
                },
            )
            for method in of_type("Method").values()
        ]
        (stage,) = of_type("Stage").values()
        return cls(
            stage_name=stage["StageName"],
            routes=routes,
            gateway_responses={
                response["ResponseType"]: response
                for response in of_type("GatewayResponse").values()
            },
            access_log_format=stage.get("AccessLogSetting", {}).get("Format"),
        )


def _static_headers(parameters: Mapping[str, str]) -> dict[str, str]:
    """Response headers mapped to static values (``'value'``)."""
    return {
        name.removeprefix(_RESPONSE_HEADER): value.strip("'")
        for name, value in parameters.items()
        if name.startswith(_RESPONSE_HEADER) and value.startswith("'")
    }


def caller_identity(
    headers: Mapping[str, str], account: str, callers: Mapping[str, str]
) -> dict[str, Any] | None:
    """``$context.identity`` of a SigV4-signed request, or None if it is not signed.

    The signature is not checked: the access key names the caller. ``callers`` maps access
    keys to principal ARNs (an assumed role's session, for example); any other key is an IAM
    user of that name in ``account``. An ``x-api-key`` header gives an API key id.

    Parameters
    ----------
    headers
        The request's headers, names in lower case.
    account
        The account of the callers ``callers`` does not name.
    callers
        Principal ARN by access key id.
    """
    match = _CREDENTIAL.search(headers.get("authorization", ""))
    if match is None:
        return None
    access_key = match.group(1)
    arn = callers.get(access_key, f"arn:aws:iam::{account}:user/{access_key}")
    api_key = headers.get("x-api-key")
    return {
        "accountId": arn.split(":")[4],
        "userArn": arn,
        "caller": access_key,
        "user": access_key,
        "accessKey": access_key,
        "apiKey": api_key,
        "apiKeyId": None if api_key is None else hashlib.sha256(api_key.encode()).hexdigest()[:10],
        "cognitoIdentityId": None,
    }


def access_log_line(log_format: str, context: Mapping[str, Any]) -> str:
    """One access log line: each ``$context`` variable of ``log_format`` replaced by its value.

    A variable is a dotted path into ``context`` (``$context.identity.sourceIp``,
    ``$context.responseOverride.header.Retry-After``); one without a value is written ``-``,
    as API Gateway writes it. Values are inserted as they are, not escaped.
    """

    def value(match: re.Match[str]) -> str:
        found: Any = context
        for step in match.group(1).split("."):
            found = found.get(step) if isinstance(found, Mapping) else None
        return _NO_VALUE if found is None or found == "" else str(found)

    return _LOG_VARIABLE.sub(value, log_format)


def _body_type_error(schema: Mapping[str, Any], body: str) -> str | None:
    """Why ``body`` fails the model's top-level ``type`` (the only keyword checked), or None."""
    try:
        document = strict_json(body) if body.strip() else None
    except ValueError:
        return "Invalid request body: not JSON"
    expected = schema.get("type")
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    actual = names.get(type(document), "number")
    if expected is None or actual == expected:
        return None
    return f"[instance type ({actual}) does not match any allowed primitive type ({expected})]"


class ApiServer:
    """A REST API from a synthesized template, served on ``127.0.0.1`` while the block runs.

    Parameters
    ----------
    definition
        The API, read from the synthesized template.
    start_sync_execution
        Runs a StartSyncExecution request (the rendered request template, parsed).
    account
        The account id in ``$context.accountId``.
    callers
        The principal (an IAM ARN) of each access key that signs requests; other keys are IAM
        users of ``account`` named after the key. Default: none.

    Attributes
    ----------
    url : str
        The stage's base URL, for example ``http://127.0.0.1:54321/v1`` (inside the block).
    rendered : list of str
        Every template text rendered, in order: tests compare them with the template's.
    access_log : list of str
        The stage's access log line of every request answered, in order (empty without
        access logs), as ``access_log_line`` renders the format.
    callers : dict of str
        ``callers``; add to it at any time, for example
        ``api.callers["AKIA2"] = "arn:aws:sts::123456789012:assumed-role/app/session-2"``.
    """

    def __init__(
        self,
        definition: RestApiDefinition,
        start_sync_execution: StartSyncExecution,
        *,
        account: str,
        callers: Mapping[str, str] | None = None,
    ) -> None:
        self.callers = dict(callers or {})
        self.definition = definition
        self._start = start_sync_execution
        self._account = account
        self.rendered: list[str] = []
        self.access_log: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> ApiServer:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                response = api.handle(
                    self.command,
                    self.path,
                    combined_headers(self.headers.items()),
                    body,
                    self.client_address,
                )
                payload = response.body.encode()
                self.send_response(response.status)
                for name, value in {
                    **response.headers,
                    "Content-Length": str(len(payload)),
                }.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: API Gateway's access logs are not reproduced."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    @property
    def url(self) -> str:
        """The stage's base URL."""
        if self._server is None:
            raise RuntimeError("The API is served only inside its `with` block")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{self.definition.stage_name}"

    # -- one request ------------------------------------------------------------------------

    def handle(
        self,
        http_method: str,
        raw_path: str,
        headers: Mapping[str, str],
        body: str,
        client: tuple[str, int] = ("127.0.0.1", 0),
    ) -> Response:
        """Answer one request as API Gateway would: validate, map, integrate, map back, log."""
        path, _, query = raw_path.partition("?")
        stage, _, resource_path = path.lstrip("/").partition("/")
        route = next(
            (r for r in self.definition.routes if r.matches(http_method, f"/{resource_path}")),
            None,
        )
        lower = {name.lower(): value for name, value in headers.items()}
        context = self._context(route, http_method, path, lower, client)
        if stage != self.definition.stage_name or route is None:
            response = Response(403, {"Content-Type": _JSON}, _MISSING_TOKEN)
        else:
            response = self._answer(route, lower, headers, query, body, context)
        if self.definition.access_log_format is not None:
            context["status"] = response.status
            context["responseLength"] = len(response.body.encode())
            self.access_log.append(access_log_line(self.definition.access_log_format, context))
        return response

    def _answer(
        self,
        route: Route,
        lower: Mapping[str, str],
        headers: Mapping[str, str],
        query: str,
        body: str,
        context: dict[str, Any],
    ) -> Response:
        """The answer to a request for ``route``: refused, or mapped, integrated, mapped back."""
        identity = caller_identity(lower, self._account, self.callers)
        if identity is None and route.method.get("AuthorizationType") == "AWS_IAM":
            return Response(403, {"Content-Type": _JSON}, _MISSING_TOKEN)
        context["identity"].update(identity or {})
        if route.method.get("ApiKeyRequired") and not lower.get("x-api-key"):
            return Response(403, {"Content-Type": _JSON}, '{"message":"Forbidden"}')
        refused = self._validate(route, lower, body, context)
        if refused is not None:
            return refused
        integration = route.method["Integration"]
        if not str(integration.get("Uri", "")).endswith(_INTEGRATION_ACTION):
            raise NotImplementedError(
                f"The local API runs only {_INTEGRATION_ACTION} integrations, got "
                f"{integration.get('Uri')!r}"
            )
        content_type = lower.get("content-type", _JSON).split(";")[0].strip()
        templates = integration.get("RequestTemplates", {})
        if content_type not in templates:
            return Response(415, {"Content-Type": _JSON}, '{"message":"Unsupported Media Type"}')
        params = {
            "path": {},
            "querystring": dict(urllib.parse.parse_qsl(query, keep_blank_values=True)),
            "header": dict(headers),
        }
        request = self._render(templates[content_type], TemplateInput(body, params), context)
        status, answer = self._start(json.loads(request))
        return self._integration_response(integration, status, json.dumps(answer), params, context)

    def _context(
        self,
        route: Route | None,
        http_method: str,
        path: str,
        headers: Mapping[str, str],
        client: tuple[str, int],
    ) -> dict[str, Any]:
        now = time.time()
        return {
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": uuid.uuid4().hex,
            "accountId": self._account,
            "httpMethod": http_method,
            "resourcePath": None if route is None else route.resource_path,
            "path": path,
            "stage": self.definition.stage_name,
            "protocol": "HTTP/1.1",
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": client[0], "userAgent": headers.get("user-agent", "")},
            "error": {"message": "", "validationErrorString": ""},
            "responseOverride": {"status": None, "header": {}},
        }

    def _render(self, template: str, input: TemplateInput, context: dict[str, Any]) -> str:
        self.rendered.append(template)
        return render(template, input=input, context=context)

    def _validate(
        self, route: Route, headers: Mapping[str, str], body: str, context: dict[str, Any]
    ) -> Response | None:
        """The gateway response of a request its validator refuses, or None."""
        if route.validator.get("ValidateRequestParameters"):
            missing = [
                name.removeprefix(_HEADER_PARAMETER)
                for name, required in route.method.get("RequestParameters", {}).items()
                if required
                and name.startswith(_HEADER_PARAMETER)
                and not headers.get(name.removeprefix(_HEADER_PARAMETER).lower())
            ]
            if missing:
                message = f"Missing required request parameters: [{', '.join(missing)}]"
                return self._gateway_response("BAD_REQUEST_PARAMETERS", message, context)
        schema = route.models.get(headers.get("content-type", _JSON).split(";")[0].strip())
        if route.validator.get("ValidateRequestBody") and schema is not None:
            error = _body_type_error(schema, body)
            if error is not None:
                return self._gateway_response("BAD_REQUEST_BODY", error, context)
        return None

    def _gateway_response(
        self, response_type: str, message: str, context: dict[str, Any]
    ) -> Response:
        context["error"] = {
            "message": "Invalid request",
            "messageString": json.dumps("Invalid request"),
            "validationErrorString": message,
        }
        response = self.definition.gateway_responses.get(response_type)
        if response is None:
            return Response(400, {"Content-Type": _JSON}, json.dumps({"message": message}))
        body = self._render(
            response.get("ResponseTemplates", {}).get(
                _JSON, '{"message":$context.error.messageString}'
            ),
            TemplateInput("", {}),
            context,
        )
        headers = {"Content-Type": _JSON, **_static_headers(response.get("ResponseParameters", {}))}
        return Response(int(response.get("StatusCode", 400)), headers, body)

    def _integration_response(
        self,
        integration: Mapping[str, Any],
        status: int,
        answer: str,
        params: Mapping[str, Mapping[str, str]],
        context: dict[str, Any],
    ) -> Response:
        """Choose the integration response by selection pattern and render its template."""
        responses = integration.get("IntegrationResponses", [])
        chosen = next(
            (
                r
                for r in responses
                if "SelectionPattern" in r and re.fullmatch(r["SelectionPattern"], str(status))
            ),
            None,
        ) or next(r for r in responses if "SelectionPattern" not in r)
        template = chosen.get("ResponseTemplates", {}).get(_JSON)
        body = (
            answer
            if template is None
            else self._render(template, TemplateInput(answer, params), context)
        )
        override = context["responseOverride"]
        headers = {
            "Content-Type": _JSON,
            **_static_headers(chosen.get("ResponseParameters", {})),
            **{name: str(value) for name, value in override["header"].items()},
        }
        return Response(int(override["status"] or chosen["StatusCode"]), headers, body.strip())


def _service_answer(answer: Mapping[str, Any]) -> dict[str, Any]:
    """A boto3 StartSyncExecution answer as the service's JSON: dates in epoch seconds."""
    return {
        key: value.timestamp() if hasattr(value, "timestamp") else value
        for key, value in answer.items()
        if key != "ResponseMetadata"
    }


def start_sync_integration(sfn: Any) -> StartSyncExecution:
    """The integration of a local REST API: StartSyncExecution through a boto3 client.

    It answers a request body as the service does, (HTTP status, JSON); a refused request
    answers the service's error (``__type``, ``message``) with its HTTP status.
    """

    def start(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            answer = sfn.start_sync_execution(**request)
        except ClientError as error:
            details = error.response["Error"]
            status = error.response["ResponseMetadata"]["HTTPStatusCode"]
            return status, {"__type": details["Code"], "message": details.get("Message", "")}
        return 200, _service_answer(answer)

    return start


def combined_headers(fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A request's header fields, one per name: repeated ones joined with ``", "`` (RFC 9110).

    Names compare whatever their case; the first spelling is kept.
    """
    combined: dict[str, str] = {}
    spelling: dict[str, str] = {}
    for name, value in fields:
        first = spelling.setdefault(name.lower(), name)
        combined[first] = f"{combined[first]}, {value}" if first in combined else value
    return combined


def signed_headers(
    url: str, body: bytes, headers: Mapping[str, str], access_key: str, region: str = "us-east-1"
) -> dict[str, str]:
    """``headers`` with a SigV4 signature of a POST to ``execute-api`` by ``access_key``.

    The secret is a fixed fake one: the local API reads who signed, not the signature.
    """
    request = AWSRequest("POST", url, data=body, headers=dict(headers))
    SigV4Auth(Credentials(access_key, "local-secret"), "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def post(
    url: str,
    data: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    access_key: str | None = LOCAL_ACCESS_KEY,
) -> Response:
    """POST ``data`` as it is (JSON text or not), signed by ``access_key`` unless it is None.

    ``Content-Type`` defaults to ``application/json``. The answer, whatever its status.
    """
    sent = {"Content-Type": _JSON, **(headers or {})}
    if access_key is not None:
        sent = signed_headers(url, data, sent, access_key)
    request = urllib.request.Request(url, data, sent, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return Response(answer.status, dict(answer.headers), answer.read().decode())
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers), error.read().decode())


def post_json(
    url: str,
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    access_key: str | None = LOCAL_ACCESS_KEY,
) -> Response:
    """POST ``body`` as JSON with urllib, as any HTTP client would; the answer, whatever status.

    Parameters
    ----------
    url
        Where to send it, for example ``f"{api.url}/payments"``.
    body
        Any JSON value.
    headers
        Request headers; ``Content-Type`` defaults to ``application/json``.
    access_key
        Sign the request (SigV4, as an IAM-authorized API requires) with this access key id:
        the local API takes it as the caller (``ApiServer.callers``). Default
        ``"LOCALCALLER"``; ``None`` sends it unsigned (API Gateway answers 403).
    """
    return post(url, json.dumps(body).encode(), headers, access_key=access_key)
