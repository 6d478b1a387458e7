"""The DynamoDB table that holds one idempotency record per key, and the records' statuses."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from .private.checks import check_bool, check_instance, check_interface, check_removal_policy
from .runtime.records import KEY_ATTRIBUTE, TTL_ATTRIBUTE

_OWNER = "IdempotencyTable"


class IdempotencyTable(Construct):
    """DynamoDB table for idempotency records, ready for ``IdempotentWorkflow``.

    Partition key ``id`` (string), on-demand billing, expiry by the ``ttl`` attribute,
    point-in-time recovery and encryption at rest. Several workflows may share one table:
    their keys carry a per-workflow namespace.

    Parameters
    ----------
    scope
        Parent construct.
    id
        Construct id.
    removal_policy
        What happens to the table when it leaves the stack. Default ``RemovalPolicy.RETAIN``:
        deleting records would let completed work run again.
    encryption
        Encryption at rest. Default ``TableEncryption.AWS_MANAGED`` (a KMS key in the account,
        visible in CloudTrail); pass ``CUSTOMER_MANAGED`` with ``encryption_key`` for your own.
    encryption_key
        The KMS key for ``TableEncryption.CUSTOMER_MANAGED``. Default: none.
    point_in_time_recovery
        Continuous backups. Default ``True``.
    deletion_protection
        Refuse ``DeleteTable`` until it is turned off. Default: on when ``removal_policy`` is
        ``RETAIN`` (CloudFormation keeps the table; protection also stops a deletion by hand),
        not set otherwise.

    Attributes
    ----------
    table : aws_dynamodb.Table
        The table itself.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        encryption: dynamodb.TableEncryption = dynamodb.TableEncryption.AWS_MANAGED,
        encryption_key: kms.IKey | None = None,
        point_in_time_recovery: bool = True,
        deletion_protection: bool | None = None,
    ) -> None:
        check_removal_policy(_OWNER, removal_policy)
        check_instance(
            _OWNER,
            "encryption",
            encryption,
            dynamodb.TableEncryption,
            "pass for example dynamodb.TableEncryption.AWS_MANAGED",
        )
        check_interface(
            _OWNER,
            "encryption_key",
            encryption_key,
            members=("key_arn",),
            expected="an aws_kms.IKey",
            fix="pass a kms.Key or kms.Key.from_key_arn(...)",
        )
        check_bool(_OWNER, "point_in_time_recovery", point_in_time_recovery)
        if deletion_protection is None:
            # Left unset (not False) otherwise, so that a destroyable table's template is as before.
            deletion_protection = True if removal_policy == RemovalPolicy.RETAIN else None
        else:
            check_bool(_OWNER, "deletion_protection", deletion_protection)
        super().__init__(scope, id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(
                name=KEY_ATTRIBUTE, type=dynamodb.AttributeType.STRING
            ),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=point_in_time_recovery
            ),
            encryption=encryption,
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            deletion_protection=deletion_protection,
        )

    @property
    def table_name(self) -> str:
        """The table's name (a token until deployment)."""
        return self.table.table_name

    @property
    def table_arn(self) -> str:
        """The table's ARN (a token until deployment)."""
        return self.table.table_arn
