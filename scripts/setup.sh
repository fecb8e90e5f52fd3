#!/usr/bin/env bash
# Set up C3 Render on Debian: system packages where missing, a virtualenv with the embedded
# models, the package itself. Safe to run again: it skips what is already in place.
#   scripts/setup.sh          service: redis-server, engines and their models
#   scripts/setup.sh --dev    also what the tests and benchmarks need (chromium, test audio, pytest, ...)
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
[ "${1:-}" = "--dev" ] && DEV=1
VENV=${C3_VENV:-.venv}
PYTHON=${PYTHON:-python3}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

packages=(redis-server)
[ $DEV = 1 ] && packages+=(chromium pocketsphinx-testdata)
apt_install "${packages[@]}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtualenv $VENV"
  if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
    apt_install python3-venv
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
  fi
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

# Reinstall only when a requirements file changed since the last successful run.
files=(requirements/base.txt requirements/engines.txt requirements/engines-nodeps.txt requirements/piper.txt pyproject.toml)
[ $DEV = 1 ] && files+=(requirements/gpu.txt requirements/dev.txt)
stamp="$VENV/.c3-setup-$(cat "${files[@]}" | sha256sum | cut -c1-16)-$DEV"
dev_stamp="$VENV/.c3-setup-$(cat "${files[@]}" requirements/gpu.txt requirements/dev.txt | sha256sum | cut -c1-16)-1"
if [ ! -f "$stamp" ] && [ ! -f "$dev_stamp" ]; then
  echo "==> installing Python packages into $VENV (a few minutes the first time)"
  reqs=(-r requirements/engines.txt -r requirements/piper.txt)
  [ $DEV = 1 ] && reqs+=(-r requirements/gpu.txt -r requirements/dev.txt)
  # numpy is pinned on the command line too so no dependency can lift it past mediapipe's <2.
  # On a venv that already has them, pip's resolver lists the dependencies that mediapipe and
  # resemblyzer declare but are installed without on purpose (--no-deps, below): those lines
  # are dropped; any other conflict is shown with its heading.
  "${PIP[@]}" install -q "${reqs[@]}" numpy==1.26.4 2>&1 | grep -v "is ignored" | awk '
    /^ERROR: pip.s dependency resolver/ { heading = $0; next }
    /^(mediapipe|resemblyzer) [^ ]+ requires / { next }
    { if (heading != "") { print heading; heading = "" } print }' || true
  "${PIP[@]}" install -q --no-deps mediapipe==0.10.21 -r requirements/engines-nodeps.txt 2>&1 | grep -v "is ignored" || true
  "${PIP[@]}" install -q --no-deps -e . 2>&1 | grep -v -e "is ignored" -e Warning || true
  "$VENV/bin/python" -c "import c3render, faster_whisper, mediapipe, piper, rapidocr, nudenet, av, flask, redis"
  touch "$stamp"
fi
echo "==> setup done ($VENV)"
