"""The deploy part of the engine: a synthesized template becomes resources in moto.

``template`` resolves CloudFormation intrinsics, ``naming`` gives each resource the name,
ARN and references CloudFormation would, ``resources`` creates tables, functions, queues,
topics and state machines, ``functions`` runs Lambda handlers in-process, and ``stack`` holds
what one stack became (``DeployedStack``).
"""
