"""Snapshots of every example stack; accept a reviewed change with `make snapshot-update`."""

from __future__ import annotations

from types import MappingProxyType

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


def test_any_mapping_is_masked_as_json():
    """``Template.to_json()`` is typed as a Mapping: any mapping, at any depth, is accepted."""
    asset = "0123456789abcdef" * 4
    template = MappingProxyType({"Code": MappingProxyType({"S3Key": f"{asset}.zip"}), "N": [1]})
    assert mask_asset_hashes(template) == {"Code": {"S3Key": "<asset-hash>.zip"}, "N": [1]}
    with pytest.raises(TypeError, match="JSON values only, got set"):
        mask_asset_hashes({"Tags": {"a"}})
