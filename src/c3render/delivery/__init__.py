"""Delivery: what a finished job hands back to its client.

``documents`` builds the result document (``GET /result`` and the webhook body);
``webhooks`` delivers the webhooks from the outbox the finish script fills; ``signing``
signs them the Standard Webhooks way.
"""
