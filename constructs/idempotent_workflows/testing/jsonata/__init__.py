"""JSONata as Step Functions evaluates it (2.0.6): jsonata-python, corrected (``evaluator``).

``$string`` writes JSON as JavaScript does with the runtime's ``javascript_json``.
"""
