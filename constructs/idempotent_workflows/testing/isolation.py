"""Keep the engine and MiniStack away from the user's AWS settings, and so from AWS itself.

boto3, the CDK CLI and MiniStack read profiles, credentials, regions and endpoint overrides
from the environment and from ``~/.aws``; a profile that does not exist, or an
``AWS_ENDPOINT_URL``, would make their calls fail or go elsewhere. ``aws_environment`` is an
environment without any ``AWS_*`` setting of the user's: local credentials, a region, empty
config files, no instance metadata and, for an emulator, its endpoint. ``isolated_from_aws``
puts it in place of the process environment while the in-process engine is open;
``isolated_session`` builds boto3 sessions that read no environment or file at all.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any, Final
from unittest import mock

import boto3
import botocore.session
from botocore.configprovider import BOTOCORE_DEFAUT_SESSION_VARIABLES

#: Credentials that can only work against the in-process AWS.
LOCAL_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def aws_environment(
    region: str,
    credentials: Mapping[str, str],
    *,
    endpoint: str | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``base`` (default: the process environment) with no AWS setting but local ones.

    Every ``AWS_*`` variable is dropped (profile, keys, session token, endpoints, region, CA
    bundle, role and container credentials) and replaced by ``credentials``, ``region``,
    config and credentials files that are empty, no instance metadata and, if given,
    ``AWS_ENDPOINT_URL``.

    Parameters
    ----------
    region
        ``AWS_REGION`` and ``AWS_DEFAULT_REGION``.
    credentials
        ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and, if any, ``AWS_SESSION_TOKEN``.
    endpoint
        ``AWS_ENDPOINT_URL``, for an emulator listening on a port.
    base
        The environment to start from.
    """
    environment = {
        name: value
        for name, value in (os.environ if base is None else base).items()
        if not name.startswith("AWS_")
    }
    environment.update(credentials)
    environment.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    if endpoint is not None:
        environment["AWS_ENDPOINT_URL"] = endpoint
    return environment


@contextlib.contextmanager
def isolated_from_aws(region: str) -> Iterator[None]:
    """Within the block, boto3 sees only local credentials, ``region`` and no configuration.

    The default boto3 session (which handlers use through ``boto3.client``) is set aside too,
    since it keeps the settings it was created with. The user's environment comes back after.

    Parameters
    ----------
    region
        The region every client defaults to.
    """
    with (
        mock.patch.dict(os.environ, aws_environment(region, LOCAL_CREDENTIALS), clear=True),
        mock.patch.object(boto3, "DEFAULT_SESSION", None),
    ):
        yield


def isolated_session(region: str, *, access_key: str, secret_key: str) -> Any:
    """A boto3 session with these credentials that reads no environment variable or file.

    Its botocore session keeps every setting's config-file name and default but not its
    environment variable, and its config and credentials files are empty: whatever the
    process environment says (a profile, an endpoint), clients of this session ignore it.
    """
    variables = {
        name: (config_name, None, default, converter)
        for name, (config_name, _, default, converter) in BOTOCORE_DEFAUT_SESSION_VARIABLES.items()
    }
    variables["config_file"] = (None, None, os.devnull, None)
    variables["credentials_file"] = (None, None, os.devnull, None)
    return boto3.session.Session(
        botocore_session=botocore.session.Session(session_vars=variables),
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
    )
