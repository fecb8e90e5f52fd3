"""The ``c3-render`` command and the Python client.

``main`` parses the command line; ``serve`` runs the service (up, api, worker) with
``launcher``'s process helpers; ``jobs`` talks to a running service through ``client``.
"""

from c3render.cli.main import main

__all__ = ["main"]
