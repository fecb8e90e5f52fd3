"""The HTTP API: ``create_app(settings)`` builds a Flask app with every blueprint.

A request goes through ``auth`` and ``cors``, a route of ``routes/`` reads its body with
``validation`` into a schema of ``schemas``, calls the queue's ``JobStore`` (kept with
the other shared objects in ``services``), and answers a document of ``documents`` (or
``delivery.documents`` for results). ``errors`` turns every error into JSON.
"""

from __future__ import annotations

from typing import Any

import redis
from flask import Flask

from c3render.api.auth import init_auth
from c3render.api.cors import init_cors
from c3render.api.errors import init_error_handlers
from c3render.api.headers import init_security_headers
from c3render.api.operations import init_proxy, init_request_logging
from c3render.api.routes.docs import docs_bp
from c3render.api.routes.docs_page import docs_page_bp
from c3render.api.routes.events import events_bp
from c3render.api.routes.files import files_bp
from c3render.api.routes.health import health_bp
from c3render.api.routes.jobs import jobs_bp
from c3render.api.routes.metrics import metrics_bp
from c3render.api.routes.openai_audio import openai_bp
from c3render.api.routes.stream import stream_bp
from c3render.api.routes.ui import ui_bp
from c3render.api.routes.uploads import uploads_bp
from c3render.api.routes.voices import voices_bp
from c3render.api.services import EXTENSION, Services
from c3render.queue.connection import connect
from c3render.queue.quotas import Quotas
from c3render.queue.registry import WorkerRegistry
from c3render.queue.store import JobStore
from c3render.settings import (
    Settings,
    load_settings,
    open_farm_warning,
    require_strong_secret,
    short_key_names,
)
from c3render.storage import create_storage


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Application factory: settings from the environment unless given."""
    settings = settings or load_settings(**overrides)
    require_strong_secret(settings)
    app = Flask(__name__, static_folder=None)  # no static files: nothing served unchecked
    warning = open_farm_warning(settings)
    if warning:
        app.logger.warning(warning)
    for name in short_key_names(settings):
        app.logger.warning("API key %r is shorter than 16 characters: it can be guessed", name)
    # no SECRET_KEY: the API keeps no sessions (links are signed with settings.secret_key),
    # and without it Flask skips the session cookie on every request
    app.config.update(
        MAX_CONTENT_LENGTH=settings.fetch_max_bytes + 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    client = connect(settings, socket_timeout=10, health_check_interval=30)
    store = JobStore(client, settings)
    app.extensions[EXTENSION] = Services(
        settings=settings, redis=client, store=store, workers=WorkerRegistry(client),
        storage=create_storage(settings), quotas=Quotas(client, settings.retention_seconds),
    )
    try:
        store.ensure_groups()
    except redis.RedisError:
        app.logger.warning("Redis at %s is not reachable yet", settings.redis_display)

    init_cors(app, settings)
    init_auth(app, settings)
    init_security_headers(app)
    init_error_handlers(app)
    init_proxy(app, settings)  # C3_TRUST_PROXY: X-Forwarded-* from that many proxies
    init_request_logging(app)
    for blueprint in (health_bp, jobs_bp, files_bp, uploads_bp, docs_bp):
        app.register_blueprint(blueprint)
    register_user_facing(app)
    return app


def register_user_facing(app: Flask) -> None:
    """The blueprints for people and hosted-API habits: live events, OpenAI audio,
    Prometheus metrics, the /docs page, the /ui dashboard, named voices and streamed speech."""
    for blueprint in (events_bp, openai_bp, metrics_bp, docs_page_bp, ui_bp, voices_bp, stream_bp):
        app.register_blueprint(blueprint)
