from aws_cdk import App

from idempotent_workflows.testing import LocalEngine
from payments_stack import PaymentsStack

THROTTLED = "DynamoDB.ProvisionedThroughputExceededException"


def test_a_throttled_store_is_retried(local_engine: LocalEngine) -> None:
    deployed = local_engine.deploy(PaymentsStack(App(), "Payments"))
    (machine,) = deployed.state_machines  # its logical id
    local_engine.load_mock_config(
        {
            "StateMachines": {machine: {"TestCases": {"Throttled": {"StoreResult": "T"}}}},
            "MockedResponses": {"T": {"0-1": {"Throw": {"Error": THROTTLED, "Cause": "slow"}}}},
        }
    )
    execution = deployed.run({"paymentId": "p-1", "amount": 5}, test_case="Throttled")
    assert execution.status == "SUCCEEDED"  # the protocol's retries absorbed two throttles
    failed = [e for e in execution.history if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failed] == [THROTTLED, THROTTLED]
