"""Compatibility entry point of the original service.

``python c3_render_api.py`` serves the API with the production server on API_HOST:API_PORT
(PORT as a fallback), and ``gunicorn c3_render_api:app`` keeps working as the original
container ran it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from c3render.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["api"]))
else:
    from c3render.wsgi import app  # noqa: F401
