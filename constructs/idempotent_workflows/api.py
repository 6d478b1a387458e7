"""``IdempotentApi``: a REST API that runs an Express idempotent workflow per request.

API Gateway calls ``states:StartSyncExecution`` directly (no Lambda function in between);
the request's ``Idempotency-Key`` header is the workflow's key, and mapping templates turn
the execution's answer into the HTTP status (StartSyncExecution itself answers 200 whether
the execution succeeded or failed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .private.mapping_templates import (
    INVALID_BODY_TEMPLATE,
    KEY_HEADER,
    MISSING_KEY_TEMPLATE,
    execution_response_template,
    request_template,
    start_failed_template,
)
from .private.nag import acknowledge
from .private.props import ApiProps
from .replay import ReplayHeaders
from .retry import RetryPolicy
from .status_map import StatusMap
from .table import IdempotencyTable
from .workflow import IdempotentWorkflow, ProtocolMetricsOfWorkflow, _WorkflowOfProps

# Why the cdk-nag findings of the API's stage and method are acknowledged (README, Security).
_FINDINGS_OF_THE_STAGE: Final = {
    "AwsSolutions-APIG6": (
        "Access logs (JSON, every standard field) are on for the stage; execution logging "
        "needs the account-wide API Gateway CloudWatch role (AWS::ApiGateway::Account), a "
        "per-account setting that one construct must not take over."
    ),
    "AwsSolutions-APIG3": (
        "The API is regional, IAM-authorized and throttled per stage; a WAFv2 web ACL holds "
        "account-specific rules (IP sets, rate rules) and is associated at deployment."
    ),
}
_FINDINGS_OF_THE_METHOD: Final = {
    "AwsSolutions-COG4": (
        "The method requires IAM (SigV4) authorization, which callers in other services and "
        "accounts sign with their own roles; a Cognito user pool serves end users, not them."
    ),
}


class IdempotentApi(ProtocolMetricsOfWorkflow, Construct):
    """A REST API whose method runs ``work`` once per ``Idempotency-Key``, synchronously.

    ``POST /<path>`` with an ``Idempotency-Key`` header (a bare token or a Structured
    Fields string, as in the IETF httpapi draft-07; anything else is refused with 400
    ``Idempotency.InvalidKey``) starts an Express ``IdempotentWorkflow`` with
    StartSyncExecution. The execution input is ``{"caller": <who signed the request>,
    "idempotencyKey": <key>, "body": <request body>}`` (and ``"route"`` with
    ``key_includes_route``); the work's output is the response body. A retry with the same
    key from the same caller gets the stored result, byte for byte; the same key with another
    body gets 422; a key whose first request still runs after the poll bound gets 409 with
    ``Retry-After`` (the seconds until its lease ends); the work's error gets
    ``work_error_status`` (or its entry in ``error_statuses``) with its name and cause. Every
    answer that is the key's outcome says whether it ran the work or came from the record, in
    ``Idempotent-Replayed`` (``false`` or ``true``), and echoes the key as the API used it in
    ``Idempotency-Key``. The README's "HTTP API" section has the whole table.

    Parameters
    ----------
    scope
        Parent construct.
    id
        Construct id.
    work
        The work to run, as for ``IdempotentWorkflow`` (JSONata states); it reads the body
        at ``$states.input.body``.
    path
        The resource path of the method, for example ``"payments"``. Default: the root.
    http_method
        Default ``"POST"``.
    body_fields
        Fields of the body that must match for a request with a known key to be a retry:
        ``None`` (default) compares the whole body, ``()`` compares nothing.
    require_key
        Refuse a request without the header with 400. Default ``True``; with ``False`` such
        a request is keyed on its own request id, so it always runs.
    key_includes_route
        Key on the method and resource path too (the execution input's ``route``), so that
        one key may be used on two routes. Default ``False``.
    scope_keys_to_caller
        Key on the caller and the header together, so that one caller can neither replay nor
        block another's key. The caller is the IAM principal that signed the request (an
        assumed role without its session name, so that a retry from a new session of the same
        role is still a retry), with its Cognito identity and API key id where present.
        Default ``True``; ``False`` shares one key space among all callers (a public endpoint
        whose clients choose unguessable keys).
    replay_headers
        The names of the response headers that say whether an answer is a replay and echo the
        key. Default ``ReplayHeaders()``: ``Idempotent-Replayed`` and ``Idempotency-Key``.
    success_status
        Status of a result, fresh or stored. Default 200 (201 suits a creating POST).
    work_error_status
        Status of a work error that ``error_statuses`` does not name. Default 500.
    error_statuses
        Status of particular work errors, for example ``{"Payment.Declined": 402}``.
    poll_interval
        Wait between two reads of a key held by another request. Default 2 seconds.
    max_polls
        Polls before 409. Default: the most that fit in the integration timeout (29 s),
        the worst-case retry waits included; more is refused at synth time.
    dynamodb_retry
        Retry of the machinery's DynamoDB calls. Default ``RetryPolicy(max_attempts=2,
        max_delay=Duration.seconds(2))``, which leaves room for polls in 29 s.
    lease, record_ttl, table
        Passed to ``IdempotentWorkflow``.
    throttling_rate_limit, throttling_burst_limit
        Stage throttling of every method (requests per second, burst). Default 50 and 100.
    api_key_required
        Require an API key (``x-api-key``) and add a usage plan with the same throttling and
        one API key. Default ``False``.
    stage_name
        Default ``"v1"``.
    removal_policy
        Of the table and log groups created here. Default ``RETAIN``.
    workflow_type
        Not accepted: the API always runs an Express workflow (API Gateway waits for the
        answer of StartSyncExecution, which only Express state machines give). Passing one
        raises ``TypeError``.

    Attributes
    ----------
    workflow : IdempotentWorkflow
        The Express workflow behind the API.
    api : aws_apigateway.RestApi
        The REST API.
    method : aws_apigateway.Method
        The method that runs the workflow.
    access_logs : aws_logs.LogGroup
        The stage's access log group.
    statuses : StatusMap
        The statuses the method answers with.
    replay_headers : ReplayHeaders
        The names of the replay flag's and the echoed key's response headers.

    Raises
    ------
    TypeError
        If a prop has the wrong type (the message names it and what to pass).
    ValueError
        If the poll bound cannot fit the integration timeout, a status is reserved, or the
        work uses JSONPath.

    Notes
    -----
    The construct acknowledges the cdk-nag findings of its own design (README, Security):
    no execution logging or WAF on the stage (APIG6, APIG3) and IAM rather than Cognito
    authorization on the method (COG4).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        work: sfn.IChainable,
        path: str = "/",
        http_method: str = "POST",
        body_fields: Sequence[str] | None = None,
        require_key: bool = True,
        key_includes_route: bool = False,
        success_status: int = 200,
        work_error_status: int = 500,
        error_statuses: Mapping[str, int] | None = None,
        poll_interval: Duration | None = None,
        max_polls: int | None = None,
        dynamodb_retry: RetryPolicy | None = None,
        lease: Duration | None = None,
        record_ttl: Duration | None = None,
        table: dynamodb.ITable | IdempotencyTable | None = None,
        throttling_rate_limit: float = 50,
        throttling_burst_limit: int = 100,
        api_key_required: bool = False,
        stage_name: str = "v1",
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        scope_keys_to_caller: bool = True,
        replay_headers: ReplayHeaders | None = None,
        workflow_type: None = None,
    ) -> None:
        props = ApiProps(
            work=work,
            path=path,
            http_method=http_method,
            body_fields=body_fields,
            require_key=require_key,
            key_includes_route=key_includes_route,
            success_status=success_status,
            work_error_status=work_error_status,
            error_statuses=error_statuses,
            poll_interval=poll_interval,
            max_polls=max_polls,
            dynamodb_retry=dynamodb_retry,
            lease=lease,
            record_ttl=record_ttl,
            table=table,
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
            api_key_required=api_key_required,
            stage_name=stage_name,
            removal_policy=removal_policy,
            scope_keys_to_caller=scope_keys_to_caller,
            replay_headers=replay_headers,
            requested_workflow_type=workflow_type,
        )
        super().__init__(scope, id)
        self.statuses = props.statuses
        self.replay_headers = props.headers
        self.workflow: IdempotentWorkflow = _WorkflowOfProps(self, "Workflow", props)
        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=removal_policy,
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            description=f"Runs {self.workflow.node.path} once per {KEY_HEADER}",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=_access_log_format(props.headers),
                tracing_enabled=True,
                metrics_enabled=True,
                throttling_rate_limit=throttling_rate_limit,
                throttling_burst_limit=throttling_burst_limit,
            ),
        )
        self._add_bad_request_responses()
        resource = self.api.root if path.strip("/") == "" else self.api.root.resource_for_path(path)
        self.method = resource.add_method(
            http_method,
            self._integration(props),
            request_parameters={f"method.request.header.{KEY_HEADER}": require_key},
            request_validator=self.api.add_request_validator(
                "Validator", validate_request_parameters=True, validate_request_body=True
            ),
            request_models={"application/json": self._body_model()},
            method_responses=[
                apigw.MethodResponse(
                    status_code=str(status),
                    response_parameters={
                        f"method.response.header.{name}": True
                        for name in (
                            *(["Retry-After"] if status == StatusMap.IN_PROGRESS else []),
                            props.headers.replayed,
                            props.headers.key,
                        )
                    },
                )
                for status in self.statuses.statuses()
            ],
            authorization_type=apigw.AuthorizationType.IAM,
            api_key_required=api_key_required,
        )
        if api_key_required:
            plan = self.api.add_usage_plan(
                "UsagePlan",
                throttle=apigw.ThrottleSettings(
                    rate_limit=throttling_rate_limit, burst_limit=throttling_burst_limit
                ),
                api_stages=[
                    apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)
                ],
            )
            plan.add_api_key(self.api.add_api_key("ApiKey"))
        acknowledge(self.api.deployment_stage, _FINDINGS_OF_THE_STAGE)
        acknowledge(self.method, _FINDINGS_OF_THE_METHOD)

    def _integration(self, props: ApiProps) -> apigw.Integration:
        role = iam.Role(
            self,
            "IntegrationRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="Lets the API start synchronous executions of its workflow",
        )
        self.workflow.state_machine.grant_start_sync_execution(role)
        content_type = "application/json"
        return apigw.AwsIntegration(
            service="states",
            action="StartSyncExecution",
            integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=role,
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                request_templates={
                    content_type: request_template(
                        self.workflow.state_machine.state_machine_arn,
                        require_key=props.require_key,
                        key_includes_route=props.key_includes_route,
                        scope_to_caller=props.scope_keys_to_caller,
                    )
                },
                integration_responses=[
                    apigw.IntegrationResponse(
                        status_code=str(self.statuses.success),
                        response_templates={
                            content_type: execution_response_template(self.statuses, props.headers)
                        },
                    ),
                    apigw.IntegrationResponse(
                        selection_pattern=r"[45]\d{2}",
                        status_code=str(StatusMap.MACHINERY_ERROR),
                        response_templates={content_type: start_failed_template()},
                    ),
                ],
            ),
        )

    def _body_model(self) -> apigw.Model:
        return self.api.add_model(
            "Body",
            content_type="application/json",
            description="The request body: a JSON object",
            schema=apigw.JsonSchema(
                schema=apigw.JsonSchemaVersion.DRAFT4, type=apigw.JsonSchemaType.OBJECT
            ),
        )

    def _add_bad_request_responses(self) -> None:
        for id, response_type, template in (
            ("MissingKey", apigw.ResponseType.BAD_REQUEST_PARAMETERS, MISSING_KEY_TEMPLATE),
            ("InvalidBody", apigw.ResponseType.BAD_REQUEST_BODY, INVALID_BODY_TEMPLATE),
        ):
            self.api.add_gateway_response(
                id,
                type=response_type,
                status_code="400",
                templates={"application/json": template},
            )

    @property
    def url(self) -> str:
        """The URL of the stage (a token until deployment)."""
        return self.api.url


def _access_log_format(headers: ReplayHeaders) -> apigw.AccessLogFormat:
    """JSON access log lines: API Gateway's standard fields, and whether the answer is a replay.

    ``replayed`` is the ``headers.replayed`` response header as the response template set it
    (``true``, ``false``, or ``-`` where the answer carries none), so the share of replays can
    be read from the logs.
    """
    field = apigw.AccessLogField
    fields = {
        "requestId": field.context_request_id(),
        "ip": field.context_identity_source_ip(),
        "user": field.context_identity_user(),
        "caller": field.context_identity_caller(),
        "requestTime": field.context_request_time(),
        "httpMethod": field.context_http_method(),
        "resourcePath": field.context_resource_path(),
        "status": field.context_status(),
        "protocol": field.context_protocol(),
        "responseLength": field.context_response_length(),
        "replayed": field.context_response_override_header(headers.replayed),
    }
    return apigw.AccessLogFormat.custom(json.dumps(fields, separators=(",", ":")))
