# test_payments.py
from aws_cdk import App

from idempotent_workflows import ProtocolState
from idempotent_workflows.testing import LocalEngine
from payments_stack import PaymentsStack


def test_charged_once(local_engine: LocalEngine) -> None:
    deployed = local_engine.deploy(PaymentsStack(App(), "Payments"))
    first = deployed.run({"paymentId": "p-1", "amount": 5})
    again = deployed.run({"paymentId": "p-1", "amount": 5})
    assert again.output == first.output
    assert deployed.function("Charge").invocations == 1
    assert again.states_entered[-1] == ProtocolState.RETURN_STORED_RESULT
