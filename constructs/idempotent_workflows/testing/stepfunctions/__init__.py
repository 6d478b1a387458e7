"""Step Functions on moto: moto's interpreter, completed where it falls short of the service.

``patches.patched_moto`` applies every completion; each module holds the ones of one concern:
``interpreter`` (JSONata, error names, the scaled clock, execution starts), ``services`` (the
Lambda, DynamoDB and SQS calls of tasks), ``callbacks`` (task tokens), ``nested_executions``
(``states:startExecution`` tasks), ``faults`` (mock configurations), ``sync_execution``
(StartSyncExecution), ``stopping`` (StopExecution) and ``fast_paths`` (speed). Everything
they take from moto comes through ``..moto_compat``.
"""
