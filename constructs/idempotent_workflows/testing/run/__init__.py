"""The run part of the engine: executions and what they did.

``execution`` holds the one result type (``Execution``), on the local engine or on an
emulator; ``completion`` lets callers wait for an execution's end; ``contents`` reads what
executions left in queues, topics and tables.
"""
