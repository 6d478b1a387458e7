"""Resolve the CloudFormation intrinsics of a synthesized template for the local engine."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...states import ProtocolState as S


@dataclass(frozen=True)
class Environment:
    """Where the local stack is deployed: pseudo parameters and per-resource physical ids.

    Attributes
    ----------
    stack_name
        ``AWS::StackName``.
    region
        ``AWS::Region``.
    account
        ``AWS::AccountId``.
    refs
        Value of ``Ref`` for each logical id.
    arns
        Value of ``Fn::GetAtt [id, Arn]`` for each logical id.
    attributes
        Other ``Fn::GetAtt`` values by logical id and attribute name (``QueueName``, ...).
    """

    stack_name: str
    region: str
    account: str
    refs: Mapping[str, str]
    arns: Mapping[str, str]
    attributes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def pseudo(self, name: str) -> str | None:
        """The value of a pseudo parameter such as ``AWS::Region`` (None for ``NoValue``)."""
        values = {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        if name not in values:
            raise KeyError(f"The local engine does not know the pseudo parameter {name}")
        return values[name]

    def ref(self, name: str) -> str | None:
        """``Ref``: a pseudo parameter or a resource's physical id."""
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name not in self.refs:
            raise KeyError(f"Ref to {name}, which the local engine did not deploy")
        return self.refs[name]

    def get_att(self, name: str, attribute: str) -> str:
        """``Fn::GetAtt``: ``Arn``, ``Name`` and the resource's ``attributes`` are known locally."""
        if attribute in self.attributes.get(name, {}):
            return self.attributes[name][attribute]
        if attribute == "Arn" and name in self.arns:
            return self.arns[name]
        if attribute == "Name" and name in self.refs:
            return self.refs[name]
        raise KeyError(f"Fn::GetAtt {name}.{attribute} is not known to the local engine")


_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def resolve(value: Any, env: Environment) -> Any:
    """Return ``value`` with its intrinsics replaced by their values in ``env``.

    Resolves ``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::Select`` and
    ``Fn::Split``; any other ``Fn::`` raises ``KeyError``.
    """
    if isinstance(value, list):
        return [resolve(item, env) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return env.ref(argument)
        if function == "Fn::GetAtt":
            name, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return env.get_att(name, attribute)
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(str(item) for item in resolve(items, env))
        if function == "Fn::Sub":
            return _sub(argument, env)
        if function == "Fn::Select":
            index, items = resolve(argument, env)
            return items[int(index)]
        if function == "Fn::Split":
            separator, text = resolve(argument, env)
            return text.split(separator)
        if function.startswith("Fn::"):
            raise KeyError(f"The local engine does not resolve {function}")
    return {key: resolve(item, env) for key, item in value.items()}


def _sub(argument: Any, env: Environment) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    variables = resolve(variables, env)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(variables[name])
        if "." in name:
            return str(env.get_att(*name.split(".", 1)))
        return str(env.ref(name))

    return _SUB_VARIABLE.sub(replace, text)


def state_machine_definitions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ASL of each state machine in a template, by logical id.

    Tokens become placeholders (``<LogicalId>``, ``<Region>``, ...), so the definition can be
    read state by state or handed to a validator without deploying anything.
    """
    resources = template["Resources"]
    names = {logical_id: f"<{logical_id}>" for logical_id in resources}
    env = Environment(
        stack_name="<Stack>", region="<Region>", account="<Account>", refs=names, arns=names
    )
    return {
        logical_id: json.loads(resolve(resource["Properties"]["DefinitionString"], env))
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::StepFunctions::StateMachine"
    }


def work_branch(definition: dict[str, Any]) -> dict[str, Any]:
    """The branch of an idempotent workflow's definition that runs the wrapped work."""
    branch: dict[str, Any] = definition["States"][S.RUN_WORK]["Branches"][0]
    return branch
