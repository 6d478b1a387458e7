# test_client.py
import pytest
from aws_cdk import App

from idempotent_workflows.examples import TransactionStack
from idempotent_workflows.runtime import PayloadMismatchError, WorkflowClient
from idempotent_workflows.testing import LocalEngine


def test_a_duplicate_is_answered_by_name(local_engine: LocalEngine) -> None:
    deployed = local_engine.deploy(TransactionStack(App(), "Transactions"))
    state_machine_arn, sfn = deployed.state_machine(), local_engine.sfn
    # snippet: client
    # In AWS: WorkflowClient(state_machine_arn), its boto3 client made for you.
    transactions = WorkflowClient(state_machine_arn, client=sfn)
    purchase = {"TransactionType": "PURCHASE", "TransactionId": "t-1", "Amount": 5}
    first = transactions.run(purchase, timeout=60)  # started: first.replayed is False
    again = transactions.run(purchase)  # no new execution, not a single state
    assert again.replayed and again.output == first.output
    with pytest.raises(PayloadMismatchError):  # Idempotency.PayloadMismatch, as the workflow
        transactions.run({**purchase, "Amount": 6})
    # end snippet
    assert len(deployed.executions()) == 1
