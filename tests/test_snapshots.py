"""Snapshots of every example stack; accept a reviewed change with `make snapshot-update`."""

from __future__ import annotations

import pytest
from conftest import EXAMPLE_STACKS, template_json
from syrupy.extensions.json import JSONSnapshotExtension

from idempotent_workflows.snapshots import mask_asset_hashes


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize(
    "name",
    EXAMPLE_STACKS,
)
def test_template_snapshot(example_stacks, snapshot_json, name):
    assert mask_asset_hashes(template_json(example_stacks[name])) == snapshot_json
