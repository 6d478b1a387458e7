"""Snapshots of every example stack; accept a reviewed change with `make snapshot-update`."""

from __future__ import annotations

import json
import re

import pytest
from conftest import EXAMPLE_STACKS, template_json
from syrupy.extensions.json import JSONSnapshotExtension

ASSET_HASH = re.compile(r"[0-9a-f]{64}")


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def without_asset_hashes(template: dict) -> dict:
    """The template with asset hashes replaced, so that handler edits show as code, not hash."""
    return json.loads(ASSET_HASH.sub("<asset-hash>", json.dumps(template)))


@pytest.mark.parametrize(
    "name",
    EXAMPLE_STACKS,
)
def test_template_snapshot(example_stacks, snapshot_json, name):
    assert without_asset_hashes(template_json(example_stacks[name])) == snapshot_json
