"""Snapshot testing of synthesized templates: what to mask so that a snapshot stays stable."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

#: An asset hash (SHA-256 in hex), as it appears in asset S3 keys and metadata.
ASSET_HASH: Final = re.compile(r"[0-9a-f]{64}")
ASSET_HASH_MASK: Final = "<asset-hash>"


def mask_asset_hashes(template: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``template`` with every asset hash replaced by ``<asset-hash>``.

    Asset hashes change with any byte of a Lambda function's code (and with the CDK version),
    so a snapshot that keeps them fails for reasons a reviewer cannot read; the handler code
    itself is tested on its own.

    Parameters
    ----------
    template
        A synthesized CloudFormation template, for example
        ``aws_cdk.assertions.Template.from_stack(stack).to_json()`` (typed as a ``Mapping``).

    Examples
    --------
    >>> mask_asset_hashes({"S3Key": "0" * 64 + ".zip"})
    {'S3Key': '<asset-hash>.zip'}
    """
    text = json.dumps(template, default=_as_dict)
    masked: dict[str, Any] = json.loads(ASSET_HASH.sub(ASSET_HASH_MASK, text))
    return masked


def _as_dict(value: object) -> dict[Any, Any]:
    """JSON for a mapping that is not a ``dict`` (``json`` serializes only dicts)."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"A template holds JSON values only, got {type(value).__name__}: {value!r}")
