"""gunicorn hooks (deploy/entrypoint.sh web): with PROMETHEUS_MULTIPROC_DIR set, the request
metrics of a worker that exited stop counting as live (prometheus_client multiprocess)."""

import os


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
