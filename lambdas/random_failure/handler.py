"""Fails at random, like a flaky downstream call, at the rate set by FAILURE_RATE (0 to 1)."""

import os
import random


class RandomFailure(Exception):
    """The simulated flaky call failed this time."""


def failure_rate():
    raw = os.environ.get("FAILURE_RATE", "0.5")
    try:
        rate = float(raw)
    except ValueError:
        raise ValueError(f"FAILURE_RATE must be a number from 0 to 1, got {raw!r}") from None
    if not 0 <= rate <= 1:
        raise ValueError(f"FAILURE_RATE must be a number from 0 to 1, got {raw!r}")
    return rate


def handler(event, context):
    if random.random() < failure_rate():
        raise RandomFailure("The random failure step failed; run the workflow again to retry")
    return "All good"
