"""``FailureNotification``: catch errors, publish them to an SNS topic, fail with the same error."""

from __future__ import annotations

from typing import Final

from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .private.catch_all import catch_every_error
from .private.checks import check_instance, check_interface
from .private.jsonata_expressions import cause_of, jsonata
from .retry import TRANSIENT_SNS_ERRORS, RetryPolicy

_OWNER: Final = "FailureNotification"


class FailureNotification(sfn.StateMachineFragment):
    """Two states that end a failed execution: publish the error, then fail with it.

    :meth:`catch` routes every error of a state here. ``NotifyFailure`` publishes a JSON
    message to ``topic`` with the error name, its cause and ``details`` (read from the failed
    state's input), retrying SNS's transient errors; ``Failed`` then ends the execution with
    the original error name and cause, so callers and alarms see what went wrong and not a
    generic failure. If the notification itself cannot be sent, the execution still fails with
    the original error. The two states have fixed names: one per state machine.

    Parameters
    ----------
    scope
        Parent construct.
    id
        Construct id.
    topic
        Where the notification goes.
    subject
        Subject of the notification (for e-mail subscribers): ASCII, one line, under 100
        characters, as SNS requires.
    details
        JSONata expression (without ``{% %}``) for an object added to the message, evaluated
        on the input of the state that failed. Default ``"{}"``. Example:
        ``"{'OrderId': $states.input.OrderId}"``.
    retry
        Retry of the publish on transient SNS errors. Default ``RetryPolicy()``.

    Attributes
    ----------
    notify : aws_cdk.aws_stepfunctions_tasks.SnsPublish
        The ``NotifyFailure`` state (the fragment's start).
    details : str
        The ``details`` expression each :meth:`catch` adds to the message.

    Raises
    ------
    TypeError
        If a prop has the wrong type.
    ValueError
        If ``subject`` is not one ASCII line under 100 characters.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic: sns.ITopic,
        subject: str,
        details: str = "{}",
        retry: RetryPolicy | None = None,
    ) -> None:
        check_interface(
            _OWNER,
            "topic",
            topic,
            members=("topic_arn",),
            expected="an aws_sns.ITopic",
            fix="pass an aws_sns.Topic",
        )
        for name, text in {"subject": subject, "details": details}.items():
            check_instance(_OWNER, name, text, str, "pass a string")
        check_instance(_OWNER, "retry", retry, RetryPolicy, "pass a RetryPolicy or omit it")
        if not (subject and subject.isascii() and subject.isprintable() and len(subject) < 100):
            raise ValueError(
                f"{_OWNER}: subject must be one line of printable ASCII under 100 characters "
                f"(SNS refuses others and the notification would be lost), got {subject!r}."
            )
        super().__init__(scope, id)
        self.details = details
        failed = sfn.Fail.jsonata(
            self,
            "Failed",
            error=jsonata("$states.input.Error"),
            cause=jsonata(cause_of("$states.input")),
        )
        self.notify = tasks.SnsPublish.jsonata(
            self,
            "NotifyFailure",
            topic=topic,
            subject=subject,
            message=sfn.TaskInput.from_text(jsonata("$string($states.input)")),
            outputs=jsonata("$states.input"),
        )
        (retry or RetryPolicy()).apply(self.notify, TRANSIENT_SNS_ERRORS)
        self.notify.add_catch(failed, errors=["States.ALL"], outputs=jsonata("$states.input"))
        self.notify.next(failed)

    def catch(self, *states: sfn.TaskStateBase | sfn.Parallel | sfn.Map) -> None:
        """Route every error of each state (``States.DataLimitExceeded`` included) here.

        Parameters
        ----------
        *states
            States that may fail: tasks, Parallel and Map states.
        """
        message = jsonata(
            f"$merge([{self.details}, {{'Error': $states.errorOutput.Error,"
            " 'Cause': $states.errorOutput.Cause}])"
        )
        for state in states:
            catch_every_error(state, self.notify, outputs=message)

    @property
    def start_state(self) -> sfn.State:
        """``NotifyFailure``."""
        return self.notify

    @property
    def end_states(self) -> list[sfn.INextable]:
        """None: the fragment ends in a Fail state."""
        return []
