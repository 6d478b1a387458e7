"""Internals of the library: nothing here is public API, and nothing outside the library imports it.

As in aws-cdk's ``lib/private``: the constructs (the modules one level up) are built from these
helpers; the examples, the local engine (``idempotent_workflows.testing``) and users import only
the names that ``idempotent_workflows`` exports.
"""
