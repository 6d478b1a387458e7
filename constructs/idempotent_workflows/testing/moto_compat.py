"""The one module of the local engine that touches moto: every import, every internal.

The engine completes moto's Step Functions interpreter by replacing some of moto's attributes
and reading a few private ones. Everything it takes from moto is imported here and only here
(``tests/test_moto_compat.py`` fails on a ``moto`` import anywhere else in the engine), so a
moto release that moves, renames or removes something costs this file:

- the imports below, re-exported under the names the engine uses;
- ``INTERNALS``: every attribute of moto that the engine replaces or reads although moto does
  not document it. ``replace`` and ``wrap`` refuse an attribute that is not listed, and the
  test checks each listed one against the installed moto, naming the version and the symbol
  that is missing;
- the functions at the end, which read moto's private attributes for the engine.

Checked with moto 5.2.5 and 5.2.6. moto 5.2.6 removed ``moto.core.exceptions.AWSError``;
the engine's own service errors derive from ``ServiceException``, which both versions
serialize as the service's error.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal
from unittest import mock

import moto  # noqa: F401  (absent: the [testing] extra is not installed, testing/__init__ says so)

try:
    import moto.backend_index as backend_index
    from moto import mock_aws
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.exceptions import ServiceException
    from moto.core.responses import ActionResult, BaseResponse, EmptyResult
    from moto.dynamodb.models import DynamoDBBackend
    from moto.sns.models import sns_backends
    from moto.stepfunctions import urls
    from moto.stepfunctions.exceptions import (
        InvalidExecutionInput,
        InvalidName,
        InvalidToken,
        ValidationException,
    )
    from moto.stepfunctions.parser.api import (
        EvaluationFailedEventDetails,
        ExecutionStatus,
        HistoryEventType,
        SendTaskFailureOutput,
        TaskFailedEventDetails,
    )
    from moto.stepfunctions.parser.asl.component.common.assign.assign_decl import AssignDecl
    from moto.stepfunctions.parser.asl.component.common.assign.assign_template_binding import (
        AssignTemplateBindingValue,
    )
    from moto.stepfunctions.parser.asl.component.common.assign.assign_template_value_array import (  # noqa: E501
        AssignTemplateValueArray,
    )
    from moto.stepfunctions.parser.asl.component.common.assign.assign_template_value_object import (  # noqa: E501
        AssignTemplateValueObject,
    )
    from moto.stepfunctions.parser.asl.component.common.assign.assign_template_value_terminal import (  # noqa: E501
        AssignTemplateValueTerminalLit,
        AssignTemplateValueTerminalStringJSONata,
    )
    from moto.stepfunctions.parser.asl.component.common.catch.catch_decl import CatchDecl
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (  # noqa: E501
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.common.jsonata.jsonata_template_binding import (  # noqa: E501
        JSONataTemplateBinding,
    )
    from moto.stepfunctions.parser.asl.component.common.jsonata.jsonata_template_value_array import (  # noqa: E501
        JSONataTemplateValueArray,
    )
    from moto.stepfunctions.parser.asl.component.common.jsonata.jsonata_template_value_object import (  # noqa: E501
        JSONataTemplateValueObject,
    )
    from moto.stepfunctions.parser.asl.component.common.jsonata.jsonata_template_value_terminal import (  # noqa: E501
        JSONataTemplateValueTerminalLit,
        JSONataTemplateValueTerminalStringJSONata,
    )
    from moto.stepfunctions.parser.asl.component.common.outputdecl import Output
    from moto.stepfunctions.parser.asl.component.common.parargs import Arguments, Parargs
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.common.string import string_expression
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.component.program.program import Program
    from moto.stepfunctions.parser.asl.component.state import state as state_module
    from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison import (
        ConditionJSONataLit,
        ConditionStringJSONata,
    )
    from moto.stepfunctions.parser.asl.component.state.choice.state_choice import StateChoice
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        iteration_worker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (
        lambda_eval_utils,
        mock_eval_utils,
        state_task_lambda,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
        state_task_service_dynamodb,
        state_task_service_sfn,
        state_task_service_sns,
        state_task_service_sqs,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (  # noqa: E501
        StateTaskServiceCallback,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import (
        StateTask,
    )
    from moto.stepfunctions.parser.asl.component.state.fail import state_fail
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import (
        Timestamp,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )
    from moto.stepfunctions.parser.asl.eval.callback.callback import (
        CallbackOutcome,
        CallbackOutcomeFailure,
        CallbackOutcomeSuccess,
        CallbackOutcomeTimedOut,
        HeartbeatTimedOut,
        HeartbeatTimeoutError,
    )
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.asl.eval.states import States
    from moto.stepfunctions.parser.asl.eval.variable_store import VariableStore
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import boto_client
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
    from moto.stepfunctions.parser.backend.execution import (
        BaseExecutionWorkerCommunication,
        SyncExecution,
    )
    from moto.stepfunctions.parser.backend.execution import Execution as BackendExecution
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.mocking.mock_config import (
        MockedResponse,
        MockedResponseReturn,
        MockedResponseThrow,
        MockTestCase,
        StateMockedResponses,
    )
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse
except ImportError as error:
    if not (error.name or "").startswith("moto."):
        raise  # a library that moto needs is not installed: not a moto version problem
    raise ImportError(
        f"The local engine does not support moto {importlib.metadata.version('moto')}: {error}. "
        "Install the moto version in constraints.txt, or adapt "
        "idempotent_workflows/testing/moto_compat.py"
    ) from error

#: moto's logger of the Step Functions interpreter (it logs every failed state at length).
INTERPRETER_LOGGER: Final = "moto.stepfunctions.parser"


def mock_aws_executing_state_machines() -> Any:
    """Start moto's in-process AWS (a context manager) with state machines executed."""
    return mock_aws(config={"stepfunctions": {"execute_state_machine": True}})


# -- what the engine replaces or reads ----------------------------------------------------------

#: ``attribute``: the owner has it; ``instance``: its instances get it; ``added``: the engine adds
#: it, moto has none.
Kind = Literal["attribute", "instance", "added"]


@dataclass(frozen=True)
class Internal:
    """An attribute of moto that the engine replaces or reads.

    Attributes
    ----------
    owner
        A moto class or module.
    name
        The attribute's name.
    kind
        ``attribute``, ``instance`` or ``added`` (see ``Kind``).
    subclasses
        The engine replaces it on the owner's subclasses that define it too.
    """

    owner: Any
    name: str
    kind: Kind = "attribute"
    subclasses: bool = False

    def covers(self, owner: Any, name: str) -> bool:
        """Whether this entry stands for ``owner.name``."""
        if name != self.name:
            return False
        if owner is self.owner:
            return True
        return self.subclasses and isinstance(owner, type) and issubclass(owner, self.owner)

    @property
    def path(self) -> str:
        """``module.Owner.name``, as a reader finds it in moto's source."""
        owner = getattr(self.owner, "__qualname__", None)
        module = self.owner.__name__ if owner is None else self.owner.__module__
        return ".".join(part for part in (module, owner, self.name) if part)

    def missing(self) -> bool:
        """Whether the installed moto lacks it (``added`` ones are never missing)."""
        if self.kind == "added":
            return False
        if self.kind == "attribute":
            return not hasattr(self.owner, self.name)
        annotated = self.name in getattr(self.owner, "__annotations__", {})
        assigned = re.search(
            rf"self\.{re.escape(self.name)}\s*(:[^=\n]+)?=(?!=)", _source(self.owner)
        )
        return not (annotated or assigned)


def _source(owner: Any) -> str:
    try:
        return inspect.getsource(owner)
    except (OSError, TypeError):
        return ""


#: The item operations of moto's DynamoDB backend (``stepfunctions.services`` serializes them).
DYNAMODB_ITEM_OPERATIONS: Final = (
    "put_item",
    "get_item",
    "scan",
    "query",
    "batch_get_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "transact_get_items",
    "batch_write_item",
)

#: Every attribute of moto that the engine replaces (``replace``, ``wrap``) or reads (below).
INTERNALS: Final[tuple[Internal, ...]] = (
    # stepfunctions.interpreter: error names, Wait and Retry, executions
    Internal(StateTaskService, "_from_error", subclasses=True),
    Internal(branches_decl, "CustomErrorName"),
    Internal(iteration_worker, "CustomErrorName"),
    Internal(state_fail, "CustomErrorName"),
    Internal(mock_eval_utils, "CustomErrorName"),
    Internal(WaitFunction, "_wait_interval"),
    Internal(retrier_decl, "time"),
    Internal(ExecutionWorker, "_get_evaluation_environment"),
    Internal(ExecutionWorker, "stop"),
    Internal(StepFunctionsParserBackend, "start_execution"),
    Internal(BaseExecutionWorkerCommunication, "terminated"),
    Internal(VariableStore, "_outer_scope", "instance"),
    Internal(VariableStore, "_inner_scope", "instance"),
    Internal(States, "_states_data", "instance"),
    # stepfunctions.sync_execution
    Internal(StepFunctionsParserBackend, "start_sync_execution", "added"),
    Internal(StepFunctionResponse, "start_sync_execution", "added"),
    Internal(backend_index, "backend_url_patterns"),
    Internal(urls, "url_bases"),
    Internal(BaseResponse, "_get_param"),
    # stepfunctions.services: the clients tasks use, Lambda, DynamoDB
    Internal(boto_client, "boto_client_for"),
    Internal(lambda_eval_utils, "boto_client_for"),
    Internal(state_task_service_dynamodb, "boto_client_for"),
    Internal(state_task_service_sqs, "boto_client_for"),
    Internal(state_task_service_sns, "boto_client_for"),
    Internal(LambdaBackend, "invoke"),
    Internal(LambdaSimpleBackend, "invoke"),
    *(Internal(DynamoDBBackend, operation) for operation in DYNAMODB_ITEM_OPERATIONS),
    # stepfunctions.nested_executions
    Internal(state_task_service_sfn, "boto_client_for"),
    Internal(state_task_service_sfn, "to_json_str"),
    Internal(state_task_service_sfn.StateTaskServiceSfn, "_normalise_parameters"),
    Internal(state_task_service_sfn.StateTaskServiceSfn, "_normalise_response"),
    Internal(state_task_service_sfn.StateTaskServiceSfn, "_eval_integration_pattern"),
    Internal(state_task_service_sfn.StateTaskServiceSfn, "_build_sync_resolver"),
    Internal(state_task_service_sfn.StateTaskServiceSfn, "_build_sync2_resolver"),
    Internal(StateTaskService, "_get_boto_service_action"),
    Internal(StateTaskService, "_to_boto_request"),
    Internal(StateTaskService, "_from_boto_response"),
    Internal(StepFunctionResponse, "describe_execution"),
    # stepfunctions.callbacks
    Internal(ExecutionState, "from_state_props"),
    Internal(StateTaskServiceCallback, "_eval_wait_for_task_token"),
    Internal(StepFunctionsParserBackend, "send_task_success"),
    Internal(StepFunctionsParserBackend, "send_task_failure"),
    Internal(StepFunctionsParserBackend, "send_task_heartbeat"),
    Internal(StepFunctionsParserBackend, "_get_executions"),
    Internal(StepFunctionResponse, "send_task_failure"),
    # stepfunctions.stopping
    Internal(Environment, "set_error"),
    Internal(EventManager, "add_event"),
    # stepfunctions.faults
    Internal(BackendExecution, "_get_start_execution_worker"),
    Internal(SyncExecution, "_get_start_execution_worker"),
    Internal(ExecutionWorker, "_mock_test_case", "instance"),
    Internal(Environment, "is_mocked_mode"),
    # stepfunctions.fast_paths
    Internal(AmazonStateLanguageParser, "parse"),
    Internal(EvalComponent, "heap_key"),
    Internal(Program, "eval"),
    Internal(ExecutionState, "_evaluate_with_timeout"),
    Internal(execute_state, "Thread"),
    Internal(result_path, "parse"),
    Internal(ExecutionWorker, "start"),
    Internal(ExecutionWorker, "_execution_logic"),
    # stepfunctions.jsonata_fields: JSONata by npm jsonata, whole fields per request
    Internal(string_expression.StringJSONata, "_eval_body"),
    Internal(string_expression.StringVariableSample, "_eval_body"),
    Internal(Parargs, "_eval_body"),
    Internal(AssignDecl, "_eval_body"),
    Internal(Output, "_eval_body"),
    Internal(StateChoice, "_eval_state"),
    Internal(StateChoice, "_eval_state_output"),
    # stepfunctions.aws_semantics: payload sizes, DynamoDB's names and results, Wait timestamps
    Internal(state_module, "is_within_size_quota"),
    Internal(state_task_lambda, "is_within_size_quota"),
    Internal(state_task_service, "is_within_size_quota"),
    Internal(StateTask, "_eval_parameters"),
    Internal(state_task_lambda.StateTaskLambda, "_eval_parameters"),
    *(
        Internal(state_task_service_dynamodb.StateTaskServiceDynamoDB, name)
        for name in ("_error_cause_from_client_error", "_eval_service_task")
    ),
    Internal(Timestamp, "_create_failure_event"),
    Internal(Timestamp, "_from_timestamp_string"),
)


def _listed(owner: Any, name: str) -> Internal:
    for internal in INTERNALS:
        if internal.covers(owner, name):
            return internal
    raise LookupError(
        f"{getattr(owner, '__qualname__', owner)}.{name} is not in moto_compat.INTERNALS: list "
        "it there, so that tests/test_moto_compat.py checks it against each moto version"
    )


def replace(owner: Any, name: str, new: Any) -> Any:
    """A ``unittest.mock`` patcher that replaces moto's ``owner.name`` by ``new`` while active.

    Raises
    ------
    LookupError
        If ``INTERNALS`` does not list ``owner.name``.
    """
    internal = _listed(owner, name)
    return mock.patch.object(owner, name, new, create=internal.kind == "added")


def wrap(owner: Any, name: str, wrapper: Callable[[Any], Any]) -> Any:
    """A patcher that replaces moto's ``owner.name`` by ``wrapper(owner.name)`` (as it is now)."""
    _listed(owner, name)
    return replace(owner, name, wrapper(getattr(owner, name)))


# -- moto's private attributes, read for the engine ---------------------------------------------


def service_tasks_naming_their_errors() -> list[type[StateTaskService]]:
    """The service task classes that name their own errors (define ``_from_error``)."""
    found: list[type[StateTaskService]] = []
    pending: list[type[StateTaskService]] = [StateTaskService]  # type: ignore[type-abstract]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "_from_error" in vars(cls):
            found.append(cls)
    return found


def jsonata_states(program: Any) -> list[CommonStateField]:
    """The states of a parsed program whose query language is JSONata, at every depth.

    Parallel branches and Map iterations included: walks the components' attributes (moto
    keeps states in dicts and lists of components).
    """
    found: list[CommonStateField] = []
    seen: set[int] = set()
    pending = [program]
    while pending:
        component = pending.pop()
        moto_component = type(component).__module__.startswith("moto.")
        if id(component) in seen or not moto_component or not hasattr(component, "__dict__"):
            continue
        seen.add(id(component))
        if (
            isinstance(component, CommonStateField)
            and component.query_language.query_language_mode == QueryLanguageMode.JSONata
        ):
            found.append(component)
        for value in vars(component).values():
            if isinstance(value, dict):
                pending.extend(value.values())
            elif isinstance(value, list | tuple):
                pending.extend(value)
            elif hasattr(value, "__dict__"):
                pending.append(value)
    return found


def variables_and_states(env: Any) -> dict[str, Any]:
    """An evaluation environment's variables (inner scope first) and ``states`` binding."""
    store = env.variable_store
    return {**store._outer_scope, **store._inner_scope, "states": env.states._states_data}


def executions(backend: Any) -> list[Any]:
    """Every execution a Step Functions backend holds."""
    found: list[Any] = backend._get_executions()
    return found


def request_parameter(response: Any, name: str, if_none: Any = None) -> Any:
    """A parameter of the request that a moto response object is answering."""
    return response._get_param(name, if_none=if_none)


def boto_service_action(task: Any, service_action_name: str | None) -> str:
    """The boto3 method name (``start_execution``) of a service task's action."""
    action: str = task._get_boto_service_action(service_action_name)
    return action


def to_boto_request(task: Any, parameters: dict[str, Any], shape: Any) -> None:
    """Rename a service task's parameters in place to boto3's names for ``shape``."""
    task._to_boto_request(parameters, shape)


def from_boto_response(task: Any, response: dict[str, Any], shape: Any) -> None:
    """Rename a boto3 response in place to Step Functions' names for ``shape``."""
    task._from_boto_response(response, shape)


def sync_resolver(task: Any, condition: Any) -> Callable[..., Any] | None:
    """The builder of the resolver of a ``.sync`` (or ``.sync:2``) task; None for others."""
    builders = {
        ResourceCondition.Sync: task._build_sync_resolver,
        ResourceCondition.Sync2: task._build_sync2_resolver,
    }
    return builders.get(condition)


def set_test_case(worker: Any, test_case: MockTestCase | None) -> None:
    """Give an execution's worker its mock test case (or none)."""
    worker._mock_test_case = test_case


def run_execution_logic(worker: Any) -> None:
    """Run an execution's worker to its end in the calling thread."""
    worker._execution_logic()


def topic_notifications(topic_arn: str, *, region: str, account: str) -> list[Any]:
    """What moto recorded as sent to a topic: (id, message, subject, attributes, group) tuples."""
    notifications: list[Any] = sns_backends[account][region].topics[topic_arn].sent_notifications
    return notifications


__all__ = [
    "DYNAMODB_ITEM_OPERATIONS",
    "INTERNALS",
    "INTERPRETER_LOGGER",
    "Internal",
    "boto_service_action",
    "executions",
    "from_boto_response",
    "jsonata_states",
    "replace",
    "request_parameter",
    "run_execution_logic",
    "service_tasks_naming_their_errors",
    "set_test_case",
    "sync_resolver",
    "to_boto_request",
    "topic_notifications",
    "variables_and_states",
    "wrap",
    "ActionResult",
    "AmazonStateLanguageParser",
    "Arguments",
    "AssignDecl",
    "AssignTemplateBindingValue",
    "AssignTemplateValueArray",
    "AssignTemplateValueObject",
    "AssignTemplateValueTerminalLit",
    "AssignTemplateValueTerminalStringJSONata",
    "BackendExecution",
    "BaseExecutionWorkerCommunication",
    "CallbackOutcome",
    "CallbackOutcomeFailure",
    "CallbackOutcomeSuccess",
    "CallbackOutcomeTimedOut",
    "CatchDecl",
    "CommonStateField",
    "ConditionJSONataLit",
    "ConditionStringJSONata",
    "CustomErrorName",
    "DynamoDBBackend",
    "EmptyResult",
    "Environment",
    "EvalComponent",
    "EvaluationFailedEventDetails",
    "EventDetails",
    "EventManager",
    "ExecutionState",
    "ExecutionStatus",
    "ExecutionWorker",
    "FailureEvent",
    "FailureEventException",
    "HeartbeatTimedOut",
    "HeartbeatTimeoutError",
    "HistoryEventType",
    "InvalidExecutionInput",
    "InvalidName",
    "InvalidToken",
    "JSONataTemplateBinding",
    "JSONataTemplateValueArray",
    "JSONataTemplateValueObject",
    "JSONataTemplateValueTerminalLit",
    "JSONataTemplateValueTerminalStringJSONata",
    "LambdaBackend",
    "LambdaSimpleBackend",
    "MockTestCase",
    "MockedResponse",
    "MockedResponseReturn",
    "MockedResponseThrow",
    "Output",
    "Parargs",
    "Program",
    "ResourceCondition",
    "SendTaskFailureOutput",
    "ServiceException",
    "StateChoice",
    "StateMockedResponses",
    "StateTask",
    "StateTaskService",
    "StateTaskServiceCallback",
    "StatesErrorName",
    "StatesErrorNameType",
    "StepFunctionResponse",
    "StepFunctionsParserBackend",
    "SyncExecution",
    "TaskFailedEventDetails",
    "TimeoutSeconds",
    "Timestamp",
    "UnknownFunctionException",
    "ValidationException",
    "WaitFunction",
    "backend_index",
    "boto_client",
    "branches_decl",
    "execute_state",
    "iteration_worker",
    "lambda_eval_utils",
    "mock_aws_executing_state_machines",
    "mock_eval_utils",
    "result_path",
    "retrier_decl",
    "state_fail",
    "state_module",
    "state_task_lambda",
    "state_task_service",
    "state_task_service_dynamodb",
    "state_task_service_sfn",
    "state_task_service_sns",
    "state_task_service_sqs",
    "string_expression",
    "to_json_str",
    "urls",
]
