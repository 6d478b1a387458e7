"""What a deployed idempotent workflow is, read from its definition: ``WorkflowDescription``.

Every ``IdempotencyProtocol`` writes a small JSON descriptor into the ``Comment`` of its
``AcquireLock`` state (``descriptor_comment``): the key namespace and rule, the payload fields,
the workflow type, the record TTL and the lease. ``AcquireLock``'s own arguments name the
table. Code running in AWS reads both with one ``DescribeStateMachine`` call, so the key rule
it applies is the one the deployed state machine applies. docs/protocol.md describes the format.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, cast

from ..states import ProtocolState
from .hashing import fingerprint, record_id
from .key_rules import KeyRule, select_fields

#: The descriptor's first member: its name marks a descriptor, its value is the version.
DESCRIPTOR_VERSION_KEY: Final = "idempotent-workflows"
#: The descriptor version this library writes and reads.
DESCRIPTOR_VERSION: Final = 1
#: The protocol's state names, as ``ProtocolState`` spells them.
_ROLES: Final = tuple(
    name for attribute, name in vars(ProtocolState).items() if attribute.isupper()
)

WorkflowType = Literal["STANDARD", "EXPRESS"]


class _StepFunctionsClient(Protocol):
    """The one call ``describe`` makes (a boto3 ``stepfunctions`` client has it)."""

    def describe_state_machine(self, *, stateMachineArn: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class WorkflowDescription:
    """One idempotency protocol of a state machine, as runtime code needs to know it.

    Build it with ``from_definition`` (an ASL definition you hold) or ``describe`` (a deployed
    state machine); both return one description per protocol the definition embeds.

    Attributes
    ----------
    namespace : str
        The key namespace: every record id starts with it and ``#``.
    key : KeyRule
        What the protocol selects from the input as key material.
    payload_fields : tuple of str
        The validated fields (opt-in payload validation); empty when none.
    workflow_type : {"STANDARD", "EXPRESS"}
        The type of the state machine the protocol runs in.
    record_ttl_seconds : int
        How long a record is honoured after it was written.
    lease_seconds : int
        How long a lock is honoured while its holder runs the work.
    table_name : str
        The DynamoDB table of the records, as the definition names it.
    state_names : Mapping[str, str]
        The name in the definition of each protocol state it has, by its ``ProtocolState``
        name (they differ when the states were prefixed with ``prefix_states``).
    """

    namespace: str
    key: KeyRule
    payload_fields: tuple[str, ...]
    workflow_type: WorkflowType
    record_ttl_seconds: int
    lease_seconds: int
    table_name: str
    state_names: Mapping[str, str]

    def record_id(self, execution_input: Any) -> str:
        """The ``id`` of the record the protocol writes for ``execution_input``.

        Parameters
        ----------
        execution_input
            The execution input as ``json.loads`` reads the JSON text sent to Step Functions.

        Raises
        ------
        InvalidKeyError
            If the workflow would refuse the input with ``Idempotency.InvalidKey``.
        """
        return record_id(self.namespace, self.key.material(execution_input))

    def payload_fingerprint(self, execution_input: Any) -> str | None:
        """The ``payloadhash`` the protocol stores for ``execution_input`` (None: no payload).

        The fingerprint of the payload fields present in the input (absent ones left out).
        """
        if not self.payload_fields:
            return None
        return fingerprint(select_fields(execution_input, self.payload_fields))

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> tuple[WorkflowDescription, ...]:
        """One description per protocol in an ASL definition, outermost first.

        Parameters
        ----------
        definition
            The state machine's definition (the parsed JSON of its ``definition`` string).

        Raises
        ------
        ValueError
            If a descriptor has another version or is malformed.
        """
        found = []
        for states in _state_maps(definition):
            for name, state in states.items():
                descriptor = _descriptor(name, state.get("Comment"))
                if descriptor is not None:
                    found.append(_description(name, state, states, descriptor))
        return tuple(found)

    @classmethod
    def describe(
        cls, state_machine_arn: str, client: _StepFunctionsClient
    ) -> tuple[WorkflowDescription, ...]:
        """One description per protocol of a deployed state machine (``DescribeStateMachine``).

        Parameters
        ----------
        state_machine_arn
            The state machine's ARN.
        client
            A boto3 ``stepfunctions`` client allowed ``states:DescribeStateMachine`` on it.
        """
        response = client.describe_state_machine(stateMachineArn=state_machine_arn)
        return cls.from_definition(json.loads(response["definition"]))


def payload_mismatch_cause(payload_fields: Sequence[str]) -> str:
    """The cause of ``Idempotency.PayloadMismatch``: the workflow's, and the client's.

    It names neither the key nor its namespace (a construct path).
    """
    fields = ", ".join(payload_fields)
    return (
        f"This idempotency key was taken by a request with other values of {fields}: "
        "send a new key for a different request."
    )


def descriptor_comment(
    *,
    namespace: str,
    key: KeyRule,
    payload_fields: Sequence[str],
    workflow_type: WorkflowType,
    record_ttl_seconds: int,
    lease_seconds: int,
) -> str:
    """The descriptor that ``IdempotencyProtocol`` writes into ``AcquireLock``'s ``Comment``."""
    return json.dumps(
        {
            DESCRIPTOR_VERSION_KEY: DESCRIPTOR_VERSION,
            "type": workflow_type,
            "namespace": namespace,
            "key": key.to_json(),
            "payloadFields": list(payload_fields),
            "recordTtlSeconds": record_ttl_seconds,
            "leaseSeconds": lease_seconds,
        },
        separators=(",", ":"),
    )


def _state_maps(definition: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Each ``States`` object of a definition, outermost first.

    The top level, then Parallel branches and Map item processors, by depth.
    """
    pending: deque[Mapping[str, Any]] = deque([definition])
    while pending:
        states: Mapping[str, Any] = pending.popleft().get("States", {})
        yield states
        for state in states.values():
            pending.extend(state.get("Branches", []))
            pending.extend(state[name] for name in ("ItemProcessor", "Iterator") if name in state)


def _descriptor(name: str, comment: Any) -> dict[str, Any] | None:
    """The descriptor in a state's comment, or None for any other comment."""
    if not isinstance(comment, str) or not comment.startswith("{"):
        return None
    try:
        value = json.loads(comment)
    except ValueError:
        return None
    if not isinstance(value, dict) or DESCRIPTOR_VERSION_KEY not in value:
        return None
    if value[DESCRIPTOR_VERSION_KEY] != DESCRIPTOR_VERSION:
        raise ValueError(
            f"State {name!r} holds an idempotent-workflows descriptor of version "
            f"{value[DESCRIPTOR_VERSION_KEY]!r}; this library reads version "
            f"{DESCRIPTOR_VERSION}: use the idempotent-workflows release that built the "
            "state machine."
        )
    return value


def _description(
    name: str, state: Mapping[str, Any], states: Mapping[str, Any], descriptor: dict[str, Any]
) -> WorkflowDescription:
    if not name.endswith(ProtocolState.ACQUIRE_LOCK):
        raise ValueError(
            f"State {name!r} holds an idempotent-workflows descriptor, but only the "
            f"protocol's {ProtocolState.ACQUIRE_LOCK} state (prefixed or not) should."
        )
    prefix = name.removesuffix(ProtocolState.ACQUIRE_LOCK)
    try:
        return WorkflowDescription(
            namespace=str(descriptor["namespace"]),
            key=KeyRule.from_json(descriptor["key"]),
            payload_fields=tuple(map(str, descriptor["payloadFields"])),
            workflow_type=_workflow_type(descriptor["type"]),
            record_ttl_seconds=int(descriptor["recordTtlSeconds"]),
            lease_seconds=int(descriptor["leaseSeconds"]),
            table_name=str(state["Arguments"]["TableName"]),
            state_names={role: prefix + role for role in _ROLES if prefix + role in states},
        )
    except (KeyError, TypeError) as error:
        raise ValueError(
            f"State {name!r} holds a malformed idempotent-workflows descriptor or arguments "
            f"({error!r} missing or wrong): {json.dumps(descriptor)}"
        ) from error


def _workflow_type(value: Any) -> WorkflowType:
    if value not in ("STANDARD", "EXPRESS"):
        raise TypeError(f"type {value!r}")
    return cast(WorkflowType, value)
