# test_deployed.py
import json

from idempotent_workflows.testing.ministack import MiniStack


def test_charged_once(deployed_assembly: MiniStack) -> None:  # MiniStack + `cdk deploy --all`
    (arn,) = deployed_assembly.state_machines("Payments").values()
    sfn = deployed_assembly.client("stepfunctions")
    payload = json.dumps({"paymentId": "p-1", "amount": 5})
    first = sfn.start_sync_execution(stateMachineArn=arn, input=payload)  # Express
    again = sfn.start_sync_execution(stateMachineArn=arn, input=payload)
    assert again["output"] == first["output"]  # "[...]" on MiniStack: see the differences
