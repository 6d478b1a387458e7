"""CloudWatch Logs offline: the events Step Functions logs, and the filters that count them."""
