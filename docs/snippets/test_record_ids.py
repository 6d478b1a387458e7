# test_record_ids.py
import pytest
from aws_cdk import App

from idempotent_workflows.runtime import InvalidKeyError, WorkflowDescription
from idempotent_workflows.testing import LocalEngine
from payments_stack import PaymentsStack


def test_the_record_id_is_known_before_the_workflow_runs(local_engine: LocalEngine) -> None:
    deployed = local_engine.deploy(PaymentsStack(App(), "Payments"))
    state_machine_arn, sfn = deployed.state_machine(), local_engine.sfn
    # snippet: describe
    # In AWS: sfn = boto3.client("stepfunctions"), allowed states:DescribeStateMachine.
    (payments,) = WorkflowDescription.describe(state_machine_arn, sfn)
    payment = {"paymentId": "p-1", "amount": 5}
    record_id = payments.record_id(payment)  # 'Payments/Payments/Protocol#<sha256>'
    with pytest.raises(InvalidKeyError):  # the workflow would end in Idempotency.InvalidKey
        payments.record_id({"amount": 5})
    # end snippet
    deployed.run(payment)
    assert [item["id"] for item in deployed.items()] == [record_id]
    assert payments.table_name == deployed.table()
