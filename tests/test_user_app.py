"""A user-style app outside the package subclasses the router and composes the workflow."""

from __future__ import annotations

from conftest import new_app
from user_app.chargeback_app import build

from idempotent_workflows import ProtocolState as S
from idempotent_workflows.testing import state_machine_definitions, work_branch


def test_user_app_with_a_chargeback_route_synthesizes():
    app = new_app()
    stack = build(app)
    assembly = app.synth()
    template = assembly.get_stack_by_name("Payments").template
    definitions = state_machine_definitions(template)
    assert len(definitions) == 2
    routers = [
        work_branch(d)["States"]
        for d in definitions.values()
        if "RouteByTransactionType" in work_branch(d)["States"]
    ]
    (router,) = routers
    choices = router["RouteByTransactionType"]["Choices"]
    assert [c["Next"] for c in choices] == ["ProcessPurchase", "ProcessRefund", "ProcessChargeback"]
    assert (
        "accepted types: PURCHASE, REFUND, CHARGEBACK." in router["UnknownTransactionType"]["Cause"]
    )
    assert stack.router.transaction_types == ["PURCHASE", "REFUND", "CHARGEBACK"]
    # Two workflows in one stack keep their keys apart by namespace.
    keys = [
        d["States"][S.ACQUIRE_LOCK]["Arguments"]["Key"]["id"]["S"] for d in definitions.values()
    ]
    assert any('"Payments/Payments/Protocol#"' in k for k in keys)
    assert any('"Payments/Emails/Protocol#"' in k for k in keys)
