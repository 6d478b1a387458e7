"""The engine ignores the user's AWS settings while it is open and restores them after."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import boto3
import pytest

from idempotent_workflows.testing import LocalEngine

HOSTILE = {
    "AWS_PROFILE": "nonexistent",
    "AWS_DEFAULT_PROFILE": "nonexistent",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_SFN": "http://127.0.0.1:9",
    "AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "AKIAUSERSREALKEY0000",
    "AWS_SECRET_ACCESS_KEY": "users-real-secret",
    "AWS_SESSION_TOKEN": "users-real-token",
    "AWS_REGION": "eu-west-3",
    "AWS_DEFAULT_REGION": "ap-south-2",
}


@pytest.fixture
def hostile_environment(monkeypatch):
    for name, value in HOSTILE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_EC2_METADATA_DISABLED", raising=False)
    # Stands for a default session made before the engine opened, with the user's settings.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", object())
    return aws_settings()


def aws_settings() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith("AWS_")}


def test_workflows_run_whatever_the_users_aws_settings(example_stacks, hostile_environment):
    with LocalEngine() as engine:
        deployed = engine.deploy(example_stacks["TransactionStandard"])
        event = {"TransactionType": "PURCHASE", "TransactionId": "h-1", "Amount": 3}
        first, again = deployed.run(event), deployed.run(event)
        assert first.status == again.status == "SUCCEEDED"
        assert again.output == first.output
        assert deployed.function("Purchase").invocations == 1
        assert len(deployed.items()) == 1
        assert not any(name.startswith("AWS_ENDPOINT_URL") for name in os.environ)
        assert "AWS_PROFILE" not in os.environ
        assert os.environ["AWS_REGION"] == os.environ["AWS_DEFAULT_REGION"] == "us-east-1"


def test_the_users_settings_are_restored_when_the_engine_closes(hostile_environment):
    session = boto3.DEFAULT_SESSION
    with LocalEngine():
        assert aws_settings() != hostile_environment
        assert boto3.DEFAULT_SESSION is not session
    assert aws_settings() == hostile_environment
    assert boto3.DEFAULT_SESSION is session


def test_the_engine_imports_whatever_the_users_aws_settings():
    """moto reads the AWS settings on import; a fresh interpreter shows it no longer fails."""
    environment = {**os.environ, **HOSTILE}
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import idempotent_workflows.pytest_plugin, idempotent_workflows.testing",
        ],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr[-2000:]


def test_closing_the_engine_stops_what_still_runs_before_restoring(
    hostile_environment, example_stacks
):
    """An execution left running would call the services once the mocks are gone."""
    with LocalEngine() as engine:
        deployed = engine.deploy(example_stacks["IdempotentWorkflowStandard"])
        work = deployed.function("RandomFailure")
        work.environment["FAILURE_RATE"] = "0"
        work.latency = 1.0
        left_running = deployed.start({"order": "left running"})
    assert engine._completions.wait(left_running.arn, 0)  # ended before the engine closed
    time.sleep(1.5)  # the handler's latency has passed: nothing of it is left to restore
    assert aws_settings() == hostile_environment
    assert work.invocations <= 1


def test_closing_the_engine_after_a_state_machine_was_deleted(example_stacks):
    with LocalEngine() as engine:
        deployed = engine.deploy(example_stacks["TransactionStandard"])
        engine.sfn.delete_state_machine(stateMachineArn=deployed.state_machine())
