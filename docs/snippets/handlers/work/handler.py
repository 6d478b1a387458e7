"""Work that only answers with its input: the Map's function in docs/engine.md."""


def handler(event, context):
    return event
