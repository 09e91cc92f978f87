#!/usr/bin/env bash
# Everything a fresh Debian machine needs before Artefact runs or tests, and nothing twice:
# each step leaves a stamp keyed by the hash of its inputs and is skipped while they hold.
#   scripts/bootstrap.sh            venv + Python packages + frontend build + bubblewrap (the
#                                   sandbox uploaded models run in; without it uploads are off)
#   scripts/bootstrap.sh --browser  ... and the Debian tools the test suite drives: chromium
#                                   (browser tests), orthanc + orthanc-dicomweb (the DICOMweb
#                                   peer), dicom3tools (dciodvfy validates every instance) and
#                                   ralph (the LRS of the xAPI tests, its own virtualenv),
#                                   lti1p3platform (the LMS of the LTI tests, likewise) and
#                                   django-oidc-provider (the single sign-on tests' provider,
#                                   likewise)
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1

say() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*"; }
stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

apt_install() {
  local runner=()
  [ "$(id -u)" -ne 0 ] && runner=(sudo)
  say "Installing Debian packages: $*"
  "${runner[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${runner[@]}" apt-get install -y -qq "$@" >/dev/null
}

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { echo "Artefact needs Python 3.11 (Django 5.2 LTS + torch 2.13 CPU wheel)." >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  say "Creating the virtual environment (.venv)"
  "$PYTHON" -m venv .venv
fi

python_inputs=$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)
if ! stamp_ok .venv/.artefact-installed "$python_inputs"; then
  say "Installing Python packages (pinned by requirements.lock; torch is the local CPU wheel)"
  find_links=()
  [ -d /opt/wheels ] && find_links=(--find-links /opt/wheels)
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q "${find_links[@]}" -c requirements.lock -e ".[dev]"
  echo "$python_inputs" > .venv/.artefact-installed
fi

command -v npm >/dev/null || apt_install nodejs npm
# gettext: msgfmt compiles the interface's translations (locale/*.po -> .mo, built here and
# never committed); makemessages (`make messages`, the i18n tests) needs xgettext.
command -v msgfmt >/dev/null && command -v xgettext >/dev/null || apt_install gettext
locale_inputs=$(find locale -name '*.po' -print0 | sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1)
locale_built=1
for po in locale/*/LC_MESSAGES/django.po; do [ -f "${po%.po}.mo" ] || locale_built=0; done
if [ "$locale_built" = 0 ] || ! stamp_ok var/.artefact-locale-compiled "$locale_inputs"; then
  say "Compiling the translations (locale/*.po -> .mo)"
  .venv/bin/python manage.py compilemessages --ignore=".venv/*" --ignore="node_modules/*" >/dev/null
  mkdir -p var && echo "$locale_inputs" > var/.artefact-locale-compiled
fi
# Educators' uploaded TorchScript models only ever run inside bubblewrap (zoo.sandbox).
command -v bwrap >/dev/null || apt_install bubblewrap
frontend_inputs=$(cat frontend/package.json frontend/package-lock.json | sha256sum | cut -d' ' -f1)
if ! stamp_ok frontend/node_modules/.artefact-installed "$frontend_inputs"; then
  say "Installing npm packages (package-lock.json)"
  (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
  echo "$frontend_inputs" > frontend/node_modules/.artefact-installed
fi
build_inputs=$(find frontend/src frontend/vite.config.js frontend/package-lock.json -type f -print0 \
  | sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1)
if ! stamp_ok static/dist/.artefact-built "$build_inputs"; then
  say "Building the frontend (vite -> static/dist)"
  (cd frontend && npm run --silent build >/dev/null)
  echo "$build_inputs" > static/dist/.artefact-built
fi

if [ "$want_browser" = 1 ]; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v Orthanc >/dev/null || missing+=(orthanc)
  [ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || missing+=(orthanc-dicomweb)
  command -v dciodvfy >/dev/null || missing+=(dicom3tools)
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
    # Debian starts the packaged Orthanc as a service on 4242/8042; the tests start their own
    # on free ports, so the system one is stopped rather than left holding ports.
    if [[ " ${missing[*]} " == *" orthanc "* ]] && command -v service >/dev/null; then
      service orthanc stop >/dev/null 2>&1 || true
    fi
  fi
  # The independent LRS of the xAPI tests (ralph) in its own cached virtualenv; done once
  # (keyed by tests/xapi_tests/ralph-requirements.txt), else on the first test needing it.
  say "The xAPI tests' LRS (ralph, cached virtualenv)"
  .venv/bin/python -m tests.xapi_tests.lrs install >/dev/null
  # The independent LTI 1.3 platform of the LTI tests (lti1p3platform), the same way.
  say "The LTI tests' platform (lti1p3platform, cached virtualenv)"
  .venv/bin/python -m tests.lti_tests.lms install >/dev/null
  say "The single sign-on tests' OpenID provider (django-oidc-provider, cached virtualenv)"
  .venv/bin/python -m tests.accounts_tests.idp install >/dev/null
fi
say "Ready."
