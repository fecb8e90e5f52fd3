"""WSGI entry point: ``app`` built from the environment (for gunicorn and granian)."""

from c3render.api import create_app
from c3render.settings import load_settings
from c3render.settings.logs import configure_logging

settings = load_settings()
configure_logging(settings, "api")  # before the app exists, so Flask adds no handler of its own
app = create_app(settings)
