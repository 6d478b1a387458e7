"""API Gateway: a synthesized REST API served on 127.0.0.1 (``server``), its VTL (``vtl``)."""
