"""waitress in several processes on one listening socket: a pre-fork server without adding gunicorn.

`outcomedesk serve` is one process, so Python's GIL limits it to one core whatever its thread count; this
forks N copies that accept from the same socket, as gunicorn's workers would, and (with the embedded broker, no
CELERY_BROKER_URL) one process more running the background tasks, as `serve`'s worker thread would.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker-threads", type=int, default=2, help="Threads of the background-task process")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outcomedesk.config.settings")

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(1024)
    children = []
    for _ in range(args.processes):
        pid = os.fork()
        if pid == 0:
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outcomedesk.config.settings")
            from django.core.wsgi import get_wsgi_application
            from waitress import serve

            serve(get_wsgi_application(), sockets=[sock], threads=args.threads, ident="outcomedesk")
            os._exit(0)
        children.append(pid)
    pid = os.fork()
    if pid == 0:
        _run_worker(args.worker_threads)
        os._exit(0)
    children.append(pid)

    def stop(signum: int, frame: object) -> None:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for pid in children:
        os.waitpid(pid, 0)


def _run_worker(threads: int) -> None:
    """The background tasks of the embedded broker (the filesystem queue), until SIGTERM."""
    import django

    django.setup()
    from outcomedesk.core.embedded_celery import start_embedded_worker, uses_embedded_broker

    if not uses_embedded_broker():
        return  # a real broker's `celery worker` processes run them
    worker = start_embedded_worker(threads=threads)
    stopped = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    while not stopped:
        signal.pause()
    worker.stop_and_join()


if __name__ == "__main__":
    main()
