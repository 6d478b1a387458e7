"""How service calls retry transient errors (throttling, 5xx): one error list per service."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn

from .private.checks import seconds

#: Errors of the optimized DynamoDB integration that are worth another try: throttling and
#: server-side faults. Reports differ on whether Step Functions names them by the API's error
#: code or by the SDK's exception class, so both spellings are listed. A failed condition
#: (``DynamoDB.ConditionalCheckFailedException``) is an answer, never retried.
TRANSIENT_DYNAMODB_ERRORS: Final = (
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.RequestLimitExceeded",
    "DynamoDB.RequestLimitExceededException",
    "DynamoDB.InternalServerError",
    "DynamoDB.InternalServerErrorException",
    "DynamoDB.ServiceUnavailable",
    "DynamoDB.ServiceUnavailableException",
)
#: Lambda's own transient errors when a task invokes a function (``lambda:invoke``): service
#: faults, throttling and the SDK's network errors; a handler's own errors are not among them.
TRANSIENT_LAMBDA_ERRORS: Final = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
#: Transient errors of the optimized SQS integration (``sqs:sendMessage``), named as above:
#: throttling, KMS throttling of an encrypted queue, server faults and the SDK's network errors.
TRANSIENT_SQS_ERRORS: Final = (
    "SQS.RequestThrottled",
    "SQS.ThrottlingException",
    "SQS.KmsThrottled",
    "SQS.KmsThrottledException",
    "SQS.InternalError",
    "SQS.InternalErrorException",
    "SQS.ServiceUnavailable",
    "SQS.SdkClientException",
)
#: Transient errors of the optimized SNS integration (``sns:publish``), named as above.
TRANSIENT_SNS_ERRORS: Final = (
    "SNS.Throttled",
    "SNS.ThrottledException",
    "SNS.KMSThrottling",
    "SNS.KMSThrottlingException",
    "SNS.InternalError",
    "SNS.InternalErrorException",
    "SNS.SdkClientException",
)
_OWNER: Final = "RetryPolicy"


@dataclass(frozen=True)
class RetryPolicy:
    """Retry of a service call on transient errors: exponential backoff, full jitter.

    Step Functions waits a random time between 0 and ``interval * backoff_rate ** n``
    (at most ``max_delay``) before retry ``n + 1``. The defaults absorb a throttling burst on
    a hot key within seconds: 3 retries after 1, 2 and 4 seconds at most (7 s in the worst
    case), so a throttled ``StoreResult`` does not turn a charged payment into a failure.

    Parameters
    ----------
    max_attempts
        Retries after the first call. Default 3; ``RetryPolicy.off()`` has none.
    interval
        Longest wait before the first retry. Default 1 second (Step Functions' minimum).
    backoff_rate
        Growth of the longest wait per retry. Default 2.
    max_delay
        Cap on any single wait. Default 4 seconds.
    """

    max_attempts: int = 3
    interval: Duration = field(default_factory=lambda: Duration.seconds(1))
    backoff_rate: float = 2.0
    max_delay: Duration = field(default_factory=lambda: Duration.seconds(4))

    def __post_init__(self) -> None:
        attempts = self.max_attempts
        if not isinstance(attempts, int) or isinstance(attempts, bool) or not 0 <= attempts <= 10:
            raise ValueError(
                f"RetryPolicy: max_attempts must be a whole number from 0 to 10, got "
                f"{attempts!r}: pass RetryPolicy.off() for none."
            )
        if not isinstance(self.backoff_rate, int | float) or not 1 <= self.backoff_rate <= 10:
            raise ValueError(
                f"RetryPolicy: backoff_rate must be from 1 to 10, got {self.backoff_rate!r}."
            )
        interval = seconds(_OWNER, "interval", self.interval)
        if seconds(_OWNER, "max_delay", self.max_delay) < interval:
            raise ValueError("RetryPolicy: max_delay must not be shorter than interval.")

    @classmethod
    def off(cls) -> RetryPolicy:
        """No retries: a transient error fails the call at once."""
        return cls(max_attempts=0)

    @property
    def worst_case_seconds(self) -> int:
        """The longest total wait of one call's retries, in seconds."""
        interval = seconds(_OWNER, "interval", self.interval)
        cap = seconds(_OWNER, "max_delay", self.max_delay)
        return sum(
            math.ceil(min(cap, interval * self.backoff_rate**retry))
            for retry in range(self.max_attempts)
        )

    def apply(
        self, task: sfn.TaskStateBase, errors: Sequence[str] = TRANSIENT_DYNAMODB_ERRORS
    ) -> None:
        """Add the Retry to a task (nothing when off).

        Parameters
        ----------
        task
            The task to retry.
        errors
            The error names to retry. Default ``TRANSIENT_DYNAMODB_ERRORS`` (the protocol's
            calls); ``TRANSIENT_LAMBDA_ERRORS``, ``TRANSIENT_SQS_ERRORS`` and
            ``TRANSIENT_SNS_ERRORS`` serve those services.
        """
        if isinstance(errors, str):
            raise TypeError(
                f"RetryPolicy.apply: errors must be a sequence of error names, got the string "
                f"{errors!r}: pass errors=[{errors!r}]."
            )
        if self.max_attempts == 0:
            return
        task.add_retry(
            errors=list(errors),
            interval=self.interval,
            max_attempts=self.max_attempts,
            backoff_rate=self.backoff_rate,
            max_delay=self.max_delay,
            jitter_strategy=sfn.JitterType.FULL,
        )
