#!/usr/bin/env bash
# Every Artefact process, started one way: the compose file, a Kubernetes manifest and
# deploy/verify.py (which CI runs natively, without a container engine) call this script,
# so the commands a deployment runs are the commands the verification proved.
#   entrypoint.sh migrate            one-off job before web and workers start (schema)
#   entrypoint.sh content            one-off job: study library (built and published to
#                                    the object store), third-party weights, the course
#   entrypoint.sh web                gunicorn on $ARTEFACT_BIND (default 0.0.0.0:8000)
#   entrypoint.sh worker QUEUES      a Celery worker consuming QUEUES (interactive|batch|gpu)
#   entrypoint.sh beat               the one scheduler (stale-run sweeper, overdue attempts)
# Settings come from the environment only (config/settings.py; docs/deployment.md).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ARTEFACT_VENV:-.venv}
PY="$VENV/bin/python"

role=${1:?"usage: entrypoint.sh migrate|content|web|worker QUEUES|beat"}
shift
case "$role" in
  migrate)
    exec "$PY" manage.py migrate --noinput
    ;;
  content)
    "$PY" -m studies.library fetch
    "$PY" manage.py library_load
    "$PY" -m zoo fetch
    exec "$PY" manage.py curriculum_load
    ;;
  web)
    if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
      # Request counters of all gunicorn workers are summed from files here; a restart
      # starts them afresh (Prometheus handles counter resets).
      rm -rf "$PROMETHEUS_MULTIPROC_DIR"
      mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    fi
    exec "$VENV/bin/gunicorn" config.wsgi:application \
      --config python:config.gunicorn \
      --bind "${ARTEFACT_BIND:-0.0.0.0:8000}" \
      --workers "${WEB_WORKERS:-4}" --threads "${WEB_THREADS:-2}" \
      --access-logfile - --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}"
    ;;
  worker)
    queues=${1:?"worker needs its queues, e.g. interactive or batch,gpu"}
    exec "$VENV/bin/celery" -A config worker -Q "$queues" \
      --concurrency "${WORKER_CONCURRENCY:-1}" --hostname "${queues//,/-}@%h" \
      --without-gossip --without-mingle --loglevel "${LOG_LEVEL:-INFO}"
    ;;
  beat)
    exec "$VENV/bin/celery" -A config beat \
      --schedule "${BEAT_SCHEDULE_FILE:-/tmp/artefact-celerybeat-schedule}" \
      --loglevel "${LOG_LEVEL:-INFO}"
    ;;
  *)
    echo "unknown role: $role" >&2
    exit 64
    ;;
esac
