#!/usr/bin/env bash
# The image's build steps, as a script: deploy/Containerfile runs exactly this, and CI runs
# it natively (no container engine on the build machines) into a scratch virtualenv, then
# deploy/verify.py starts every process of the compose file from the result.
#   ARTEFACT_VENV=/opt/artefact/venv   where the virtualenv goes (default .venv)
#   WHEELHOUSE=/path/to/wheels         offline install: pip uses only these wheels
#   ARTEFACT_USER=artefact             the unprivileged user processes run as (created when
#                                      this runs as root and it does not exist)
#   SKIP_APT=1 / SKIP_FRONTEND=1       leave out the Debian packages / the vite build
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ARTEFACT_VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
say() { printf '\033[1;34m[build]\033[0m %s\n' "$*"; }

if [ "${SKIP_APT:-0}" != 1 ]; then
  say "Debian packages: Python 3.11, bubblewrap (the model sandbox), Node for the frontend build"
  runner=()
  [ "$(id -u)" -ne 0 ] && runner=(sudo)
  "${runner[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${runner[@]}" apt-get install -y -qq --no-install-recommends \
    python3.11 python3.11-venv bubblewrap ca-certificates nodejs npm >/dev/null
fi

say "Virtualenv $VENV (runtime dependencies only, pinned by requirements.lock)"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip_source=()
if [ -n "${WHEELHOUSE:-}" ]; then
  # Hospital networks often have no route to package registries: every wheel comes from
  # the folder prepared on a connected machine (docs/deployment.md, offline install).
  pip_source=(--no-index --find-links "$WHEELHOUSE")
elif [ -d /opt/wheels ]; then
  pip_source=(--find-links /opt/wheels)
fi
"$VENV/bin/pip" install -q "${pip_source[@]}" --upgrade pip
"$VENV/bin/pip" install -q "${pip_source[@]}" -c requirements.lock .

if [ "${SKIP_FRONTEND:-0}" != 1 ]; then
  say "Frontend bundle (vite -> static/dist)"
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build >/dev/null)
fi

say "Static files (hashed names, compressed; whitenoise serves them from STATIC_ROOT)"
# collectstatic reads settings only; these throw-away values never reach a running process.
ARTEFACT_ENV=production SECRET_KEY=collectstatic-only-$RANDOM$RANDOM DEID_SECRET=collectstatic-only \
  DATABASE_URL=sqlite:////tmp/artefact-collectstatic.sqlite3 \
  "$VENV/bin/python" manage.py collectstatic --noinput -v 0

user=${ARTEFACT_USER:-artefact}
if [ "$(id -u)" -eq 0 ] && ! id "$user" >/dev/null 2>&1; then
  say "Unprivileged user $user (web and workers run as it; the sandbox drops to uid 65534)"
  useradd --system --uid "${ARTEFACT_UID:-10001}" --home-dir /var/lib/artefact --create-home \
    --shell /usr/sbin/nologin "$user"
fi
if [ "$(id -u)" -eq 0 ] && id "$user" >/dev/null 2>&1; then
  mkdir -p var
  chown -R "$user" var
fi
say "Built. Check it: deploy/verify.py (starts the compose file's processes natively)."
