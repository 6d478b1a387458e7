"""Keep the local engine away from the user's AWS settings, and so from AWS itself.

boto3 reads profiles, credentials, regions and endpoint overrides from the environment and
from ``~/.aws``; a profile that does not exist, or an ``AWS_ENDPOINT_URL``, would make the
engine's own clients (and the handlers' clients) fail or call elsewhere. While the engine is
open, every ``AWS_*`` variable is replaced by fake credentials, the engine's region, empty
config files and no endpoint override; the user's variables come back when it closes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from unittest import mock

import boto3

#: Credentials that can only work against the in-process AWS.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def hermetic_environment(region: str) -> dict[str, str]:
    """The process environment without any ``AWS_*`` setting of the user's, plus fakes."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    return {
        **kept,
        **FAKE_CREDENTIALS,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextlib.contextmanager
def isolated_from_aws(region: str) -> Iterator[None]:
    """Within the block, boto3 sees only fake credentials, ``region`` and no configuration.

    The default boto3 session (which handlers use through ``boto3.client``) is set aside too,
    since it keeps the settings it was created with.

    Parameters
    ----------
    region
        The region every client defaults to.
    """
    with (
        mock.patch.dict(os.environ, hermetic_environment(region), clear=True),
        mock.patch.object(boto3, "DEFAULT_SESSION", None),
    ):
        yield
