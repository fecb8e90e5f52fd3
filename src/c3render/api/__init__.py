"""The HTTP API: ``create_app(settings)`` builds a Flask app with every blueprint."""

from __future__ import annotations

from typing import Any

import redis
from flask import Flask
from c3render.api.security import init_auth, init_cors
from c3render.api.errors import init_error_handlers
from c3render.api.services import EXTENSION, Services
from c3render.config import Settings, load_settings
from c3render.jobstore import JobStore


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Application factory: settings from the environment unless given."""
    settings = settings or load_settings(**overrides)
    app = Flask(__name__)
    # no SECRET_KEY: the API keeps no sessions (links are signed with settings.secret_key),
    # and without it Flask skips the session cookie on every request
    app.config.update(
        MAX_CONTENT_LENGTH=settings.fetch_max_bytes + 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    client = redis.Redis.from_url(
        settings.redis_dsn, decode_responses=True, socket_timeout=10, health_check_interval=30
    )
    from c3render.storage import create_storage

    store = JobStore(client, settings)
    app.extensions[EXTENSION] = Services(
        settings=settings, redis=client, store=store, storage=create_storage(settings)
    )
    try:
        store.ensure_groups()
    except redis.RedisError:
        app.logger.warning("Redis at %s is not reachable yet", settings.redis_dsn)

    init_cors(app, settings)
    init_auth(app, settings)
    init_error_handlers(app)

    from c3render.api.docs import docs_bp
    from c3render.api.files import files_bp
    from c3render.api.health import health_bp
    from c3render.api.jobs import jobs_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(files_bp)
    app.register_blueprint(docs_bp)
    return app
