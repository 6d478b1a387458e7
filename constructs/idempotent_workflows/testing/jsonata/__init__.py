"""JSONata as Step Functions evaluates it: npm jsonata 2.0.6 on Node (``evaluator``).

``step_functions.js`` is the Node side (jsonata, the functions Step Functions adds, no
``$eval``); ``runtime`` finds Node and installs jsonata from the lock in ``npm/``;
``python -m idempotent_workflows.testing.jsonata`` does that ahead of time.
"""
