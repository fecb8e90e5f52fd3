"""WSGI entry point: ``app`` built from the environment (for gunicorn and granian)."""

from c3render.api import create_app

app = create_app()
