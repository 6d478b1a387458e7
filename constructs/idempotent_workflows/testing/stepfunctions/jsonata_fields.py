"""JSONata evaluated field by field, as Step Functions evaluates it, one request per state moment.

moto evaluates JSONata one expression at a time, each in a text of its own with every variable
written into it as a literal, and leaves the evaluator itself empty. Here every expression goes
to npm jsonata 2.0.6 (``jsonata.evaluator``), and whole fields go in one request:

- a state's ``Arguments``: the whole template;
- the ``Assign`` and ``Output`` of a state, of a ``Catch`` or of a Choice rule: one request
  for both, so that both see the variables as they were before the state, as in Step
  Functions; the Output's value (or failure) waits until moto evaluates the Output;
- a Choice state: its conditions in order until one is true, then that rule's Assign and
  Output, or the state's own when none is.

These templates are read once per definition, when it is parsed (``registered``), for the
states whose query language is JSONata. Any other expression (Wait's ``Seconds`` and
``Timestamp``, Fail's ``Error`` and ``Cause``, Map's ``Items``, timeouts) is one request of its
own (``_leaf``). A failure is ``States.QueryEvaluationError`` with Step Functions' cause and the
field's location (``Output/a/b[0]``, ``Catch[0]/Assign/x``, ``Choices[1]/Condition``), recorded
as an ``EvaluationFailed`` event, as Step Functions records it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Final, cast

from ..jsonata.evaluator import SHARED, Field, JSONataEvaluationError
from ..moto_compat import (
    AmazonStateLanguageParser,
    Arguments,
    AssignDecl,
    AssignTemplateBindingValue,
    AssignTemplateValueArray,
    AssignTemplateValueObject,
    AssignTemplateValueTerminalLit,
    AssignTemplateValueTerminalStringJSONata,
    CatchDecl,
    ConditionJSONataLit,
    ConditionStringJSONata,
    EvaluationFailedEventDetails,
    EventDetails,
    FailureEvent,
    FailureEventException,
    HistoryEventType,
    JSONataTemplateBinding,
    JSONataTemplateValueArray,
    JSONataTemplateValueObject,
    JSONataTemplateValueTerminalLit,
    JSONataTemplateValueTerminalStringJSONata,
    Output,
    Parargs,
    StateChoice,
    StatesErrorName,
    StatesErrorNameType,
    jsonata_states,
    replace,
    string_expression,
    variables_and_states,
    wrap,
)

StringJSONata = string_expression.StringJSONata

# -- the templates, read back from the parsed definition ----------------------------------------


class _NotAJSONataTemplate(Exception):
    """A field holding something else (a JSONPath ``.$`` binding): left to moto, leaf by leaf."""


def template_of(component: Any) -> Any:
    """The JSON template a parsed JSONata field came from (strings ``{% %}`` and literals)."""
    if isinstance(component, JSONataTemplateValueObject | AssignTemplateValueObject):
        return dict(_binding(binding) for binding in component.bindings)
    if isinstance(component, AssignDecl):
        return dict(_binding(declared.binding) for declared in component.declaration_bindings)
    if isinstance(component, JSONataTemplateValueArray | AssignTemplateValueArray):
        return [template_of(value) for value in component.values]
    if isinstance(component, JSONataTemplateValueTerminalLit | AssignTemplateValueTerminalLit):
        return component.value
    if isinstance(
        component,
        JSONataTemplateValueTerminalStringJSONata | AssignTemplateValueTerminalStringJSONata,
    ):
        return template_of(component.string_jsonata)
    if isinstance(component, StringJSONata):
        return "{%" + component.expression + "%}"
    if isinstance(component, Output):
        return template_of(component.jsonata_template_value)
    if isinstance(component, Arguments):
        return template_of(component.template_eval_component)
    raise _NotAJSONataTemplate(type(component).__name__)


def _binding(binding: Any) -> tuple[str, Any]:
    if isinstance(binding, JSONataTemplateBinding):
        return binding.identifier, template_of(binding.value)
    if isinstance(binding, AssignTemplateBindingValue):
        return binding.identifier, template_of(binding.assign_value)
    raise _NotAJSONataTemplate(type(binding).__name__)


#: A Choice rule: its ``Condition`` (a template or a boolean) and the fields it evaluates.
Rule = tuple[Any, list[Field]]

#: What each parsed component evaluates in one request, set once per definition. Weak keys:
#: a program goes with its engine, and its entries with it.
_ARGUMENTS: Final[weakref.WeakKeyDictionary[Any, Field]] = weakref.WeakKeyDictionary()
#: An Assign: its fields and its Output's (which then takes the value computed with them).
_ASSIGNS: Final[weakref.WeakKeyDictionary[Any, tuple[list[Field], Any]]] = (
    weakref.WeakKeyDictionary()
)
_OUTPUTS: Final[weakref.WeakKeyDictionary[Any, Field]] = weakref.WeakKeyDictionary()
#: A Choice state: each rule's condition and fields, and the fields when no rule matches.
_CHOICES: Final[weakref.WeakKeyDictionary[Any, tuple[list[Rule], list[Field]]]] = (
    weakref.WeakKeyDictionary()
)


def _assign_and_output(assign: Any, output: Any, prefix: str) -> list[Field]:
    """Register an Assign and the Output beside it (``prefix`` locates both); their fields."""
    fields = []
    if assign is not None:
        fields.append((prefix + "Assign", template_of(assign)))
    if output is not None:
        fields.append((prefix + "Output", template_of(output)))
        _OUTPUTS[output] = fields[-1]
    if assign is not None:
        _ASSIGNS[assign] = (fields, output)
    return fields


def _register_state(state: Any) -> None:
    parargs = getattr(state, "parargs", None)
    if isinstance(parargs, Arguments):
        _ARGUMENTS[parargs] = ("Arguments", template_of(parargs))
    own = _assign_and_output(state.assign_decl, state.output, "")
    catch = getattr(state, "catch", None)
    if isinstance(catch, CatchDecl):
        for index, catcher in enumerate(catch.catchers):
            _assign_and_output(catcher.assign, catcher.output, f"Catch[{index}]/")
    if isinstance(state, StateChoice):
        rules = []
        for index, rule in enumerate(state.choices_decl.rules):
            if isinstance(rule.comparison, ConditionStringJSONata):
                condition = template_of(rule.comparison.string_jsonata)
            elif isinstance(rule.comparison, ConditionJSONataLit):
                condition = rule.comparison.literal
            else:
                raise _NotAJSONataTemplate(type(rule.comparison).__name__)
            prefix = f"Choices[{index}]/"
            rules.append((condition, _assign_and_output(rule.assign, rule.output, prefix)))
        _CHOICES[state] = (rules, own)


def registered(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """Wraps ``AmazonStateLanguageParser.parse``: read the JSONata fields of each state once."""

    def parse_and_register(definition: str) -> Any:
        program, tree = parse(definition)
        for state in jsonata_states(program):
            try:
                _register_state(state)
            except _NotAJSONataTemplate:
                pass  # what was registered stays; the rest is evaluated leaf by leaf
        return program, tree

    return parse_and_register


# -- evaluation -----------------------------------------------------------------------------


def query_evaluation_error(env: Any, error: JSONataEvaluationError, *, record: bool = True) -> Any:
    """States.QueryEvaluationError for ``error``, recorded as an ``EvaluationFailed`` event.

    ``record=False`` where moto records it itself (inside a Task, Parallel or Map state's
    execution, which records the failure event it catches).
    """
    name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
    details = EvaluationFailedEventDetails(error=name.error_name, cause=error.cause)
    if error.location:
        details["location"] = error.location
    failure = FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=name,
            event_type=HistoryEventType.EvaluationFailed,
            event_details=cast(EventDetails, {"evaluationFailedEventDetails": details}),
        )
    )
    if record:
        evaluation_failed = failure.get_evaluation_failed_event_details()
        env.event_manager.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.EvaluationFailed,
            event_details=cast(EventDetails, {"evaluationFailedEventDetails": evaluation_failed}),
        )
    return failure


def _evaluate(env: Any, fields: list[Field], *, record: bool = True) -> list[Any]:
    try:
        return SHARED.fields(variables_and_states(env), fields)
    except JSONataEvaluationError as error:
        raise query_evaluation_error(env, error, record=record) from None


#: The field a lone expression belongs to, by the moto component that holds it.
_FIELDS: Final = {
    "SecondsJSONata": "Seconds",
    "ItemsJSONata": "Items",
    "MaxConcurrencyJSONata": "MaxConcurrency",
    "MaxItemsStringJSONata": "ItemReader/ReaderConfig/MaxItems",
    "ToleratedFailureCountStringJSONata": "ToleratedFailureCount",
    "ToleratedFailurePercentageStringJSONata": "ToleratedFailurePercentage",
    "TimeoutSecondsJSONata": "TimeoutSeconds",
    "HeartbeatSecondsJSONata": "HeartbeatSeconds",
    "ConditionStringJSONata": "Condition",
}


def _leaf(self: Any, env: Any) -> None:
    """Replaces moto's evaluation of one expression (and of a variable sample)."""
    named = env.next_field_name or ""
    (value,) = _evaluate(env, [(_FIELDS.get(named, named), "{%" + self.expression + "%}")])
    env.stack.append(value)


def _arguments(original: Callable[..., None]) -> Callable[..., None]:
    def eval_body(self: Any, env: Any) -> None:
        field = _ARGUMENTS.get(self)
        if field is None:
            original(self, env)
            return
        # Evaluated inside the state's execution, which records the failure itself.
        env.stack.extend(_evaluate(env, [field], record=False))

    return eval_body


#: An Output's value (or failure), computed with the Assign beside it, by environment.
_PENDING_OUTPUT: Final[weakref.WeakKeyDictionary[Any, tuple[Any, Any]]] = (
    weakref.WeakKeyDictionary()
)


def _within(location: str, field: str) -> bool:
    """Whether ``location`` lies in ``field`` (``Output/a[0]`` in ``Output``)."""
    return location == field or location.startswith((field + "/", field + "["))


def _assign_variables(env: Any, assigned: dict[str, Any]) -> None:
    for identifier, value in assigned.items():
        env.variable_store.set(variable_identifier=identifier, variable_value=value)


def _assign(original: Callable[..., None]) -> Callable[..., None]:
    def eval_body(self: Any, env: Any) -> None:
        registered_fields = _ASSIGNS.get(self)
        if registered_fields is None:
            original(self, env)
            return
        fields, output = registered_fields
        try:
            values = SHARED.fields(variables_and_states(env), fields)
        except JSONataEvaluationError as error:
            if output is None or not _within(error.location, fields[1][0]):
                raise query_evaluation_error(env, error) from None
            # Output failed, Assign did not: the state fails where moto evaluates the Output.
            _PENDING_OUTPUT[env] = (output, error)
            values = _evaluate(env, fields[:1])
        else:
            if output is not None:
                _PENDING_OUTPUT[env] = (output, values[1])
        _assign_variables(env, values[0])

    return eval_body


def _output(original: Callable[..., None]) -> Callable[..., None]:
    def eval_body(self: Any, env: Any) -> None:
        pending = _PENDING_OUTPUT.pop(env, None)
        if pending is not None and pending[0] is self:
            value = pending[1]
            if isinstance(value, JSONataEvaluationError):
                raise query_evaluation_error(env, value)
        elif (field := _OUTPUTS.get(self)) is not None:
            (value,) = _evaluate(env, [field])
        else:
            original(self, env)
            return
        env.states.reset(input_value=value)

    return eval_body


def _choice(original: Callable[..., None]) -> Callable[..., None]:
    """A Choice state's rules in one request; the next state's name left on the stack."""

    def eval_state(self: Any, env: Any) -> None:
        registered_rules = _CHOICES.get(self)
        if registered_rules is None:
            original(self, env)
            return
        rules, otherwise = registered_rules
        try:
            chosen, values = SHARED.choose(variables_and_states(env), rules, otherwise)
        except JSONataEvaluationError as error:
            raise query_evaluation_error(env, error) from None
        fields = otherwise if chosen is None else rules[chosen][1]
        for (location, _), value in zip(fields, values, strict=True):
            if location.endswith("Assign"):
                _assign_variables(env, value)
            else:
                env.states.reset(input_value=value)
        if chosen is not None:
            env.stack.append(self.choices_decl.rules[chosen].next_stmt.name)
        elif self.default_state is not None:
            env.stack.append(self.default_state.state_name)
        else:  # moto's own answer (States.Runtime)
            raise RuntimeError(f"No branching option reached in state {self.name}")

    return eval_state


def _choice_output(original: Callable[..., None]) -> Callable[..., None]:
    """Go to the state ``_choice`` chose: its Assign and Output were evaluated with the rules."""

    def eval_state_output(self: Any, env: Any) -> None:
        if self in _CHOICES:
            env.next_state_name = env.stack.pop()
        else:
            original(self, env)

    return eval_state_output


def patches() -> list[Any]:
    """The patches of this module (``unittest.mock`` patchers)."""
    return [
        wrap(AmazonStateLanguageParser, "parse", lambda parse: staticmethod(registered(parse))),
        *(
            replace(leaf, "_eval_body", _leaf)
            for leaf in (StringJSONata, string_expression.StringVariableSample)
        ),
        wrap(Parargs, "_eval_body", _arguments),
        wrap(AssignDecl, "_eval_body", _assign),
        wrap(Output, "_eval_body", _output),
        wrap(StateChoice, "_eval_state", _choice),
        wrap(StateChoice, "_eval_state_output", _choice_output),
    ]
