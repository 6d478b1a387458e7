"""docs/ministack.md: MiniStack outside pytest's fixtures, on the cdk.out of the quick start."""


def test_ministack_as_a_context_manager() -> None:
    # snippet: outside-pytest
    from idempotent_workflows.testing.ministack import MiniStack

    with MiniStack() as local:  # stopped, with its process group, also on an exception
        local.deploy("cdk.out")
        sfn = local.client("stepfunctions")
        # end snippet
        (arn,) = local.state_machines("Payments").values()
        assert sfn.describe_state_machine(stateMachineArn=arn)["type"] == "EXPRESS"
    assert local.pid is None
