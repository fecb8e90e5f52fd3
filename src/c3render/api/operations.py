"""What running behind a reverse proxy and shipping logs need from the API.

``init_proxy``: with ``C3_TRUST_PROXY=N`` werkzeug's ``ProxyFix`` believes the last ``N``
values of ``X-Forwarded-For``, ``-Proto``, ``-Host``, ``-Port`` and ``-Prefix``, so result
links, ``urls`` and upload links get the scheme, host and path prefix the client used (an
explicit ``C3_PUBLIC_URL`` still wins, ``Settings.link_base``). Unset (0), those headers are
ignored: any client could send them; ``under_prefix`` puts the dashboard's and the docs
page's own links under that prefix. ``init_request_logging``: the lines logged while a
request about one job is handled (``/status/<id>``, ``/result/<id>``, ...) carry its id.
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from c3render.settings import Settings
from c3render.settings.logs import bind_job


def init_proxy(app: Flask, settings: Settings) -> None:
    """Honour ``X-Forwarded-*`` from ``settings.trust_proxy`` proxies (none by default)."""
    hops = settings.trust_proxy
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops
        )


def under_prefix(html: str) -> str:
    """Our own page ``html`` with its absolute links (``="/...``) under the path prefix a
    trusted proxy reported (``X-Forwarded-Prefix``; unchanged without one)."""
    root = request.script_root
    return html.replace('="/', f'="{root}/') if root else html


def init_request_logging(app: Flask) -> None:
    """Name the job of a ``/<route>/<job_id>`` request on every line logged for it."""

    @app.before_request
    def _name_the_job() -> None:
        job_id = (request.view_args or {}).get("job_id")
        bind_job(job_id if isinstance(job_id, str) else None)

    @app.teardown_request
    def _forget_the_job(_error: BaseException | None) -> None:
        bind_job(None)
