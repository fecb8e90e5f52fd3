#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite against real Redis, models and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
