"""C3 Render: a self-hosted job service for AI media rendering."""

__version__ = "0.1.0"
