"""Run in a venv holding only the wheel (``--no-deps``) and boto3: the client answers a
duplicate from a closed execution, with botocore's Stubber standing for Step Functions.

The definition (with its workflow descriptor) comes on stdin; prints the modules loaded.
"""

import datetime
import json
import sys

import boto3
from botocore.stub import Stubber

from idempotent_workflows.runtime import WorkflowClient

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Payments"
definition = sys.stdin.read()
sfn = boto3.client(
    "stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
)
purchase = {"TransactionType": "PURCHASE", "TransactionId": "t-1", "Amount": 5}
with Stubber(sfn) as stub:
    stub.add_response(
        "describe_state_machine",
        {
            "stateMachineArn": MACHINE,
            "name": "Payments",
            "definition": definition,
            "roleArn": "arn:aws:iam::123456789012:role/r",
            "type": "STANDARD",
            "creationDate": datetime.datetime.now(datetime.UTC),
        },
    )
    client = WorkflowClient(MACHINE, client=sfn)
    name = client.execution_name(purchase)
    arn = client.execution_arn(name)
    stub.add_client_error("start_execution", "ExecutionAlreadyExists")
    now = datetime.datetime.now(datetime.UTC)
    stub.add_response(
        "describe_execution",
        {
            "executionArn": arn,
            "stateMachineArn": MACHINE,
            "name": name,
            "status": "SUCCEEDED",
            "startDate": now,
            "stopDate": now,
            "input": json.dumps(purchase),
            "output": '{"Receipt": "r-1"}',
        },
    )
    answer = client.run(purchase)
    assert (answer.output, answer.replayed, answer.attempt) == ({"Receipt": "r-1"}, True, 1)
print(json.dumps(sorted(m for m in sys.modules if m.partition(".")[0] in {"aws_cdk", "jsii"})))
