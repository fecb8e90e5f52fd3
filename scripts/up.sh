#!/usr/bin/env bash
# Set up (if needed) and start the whole service on localhost: Redis, the API on :5000, a worker.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
[ -f .env ] || cp env.sample .env
exec .venv/bin/c3-render up "$@"
