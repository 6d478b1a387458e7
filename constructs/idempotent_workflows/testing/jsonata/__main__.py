"""``python -m idempotent_workflows.testing.jsonata``: install npm jsonata 2.0.6 ahead of time."""

from .runtime import main

main()
