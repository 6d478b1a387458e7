"""JSONata as Step Functions evaluates it (2.0.6): jsonata-python, corrected (``evaluator``).

``javascript_json`` writes JSON as JavaScript does, for ``$string``.
"""
