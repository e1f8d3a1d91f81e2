"""`manage.py db_worker` that outlives a locked or unreachable database.

django-tasks-db's worker ignores a lock only while it selects the next task; a lock at the start of its
transaction, or while it records a task's result, ends the process ("database is locked"), and queued runs then
wait for someone to restart it. This worker runs the same poll, and when the database is unavailable
(core.faults.database_unavailable) it logs a line, waits WORKER_DATABASE_RETRY_MIN seconds, doubling up to
WORKER_DATABASE_RETRY_MAX, and polls again; the wait starts over once a poll succeeds. Any other error still
stops it. Subclasses add work done between polls (`between_polls`), such as the audit app's reaper.
"""

import logging
import os
import random
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from core.faults import database_unavailable

logger = logging.getLogger("django_tasks_db")


class Backoff:
    """Seconds to wait after each consecutive failure: minimum, doubling, capped; `reset()` after a success."""

    def __init__(self, minimum: float, maximum: float):
        self.minimum, self.maximum = minimum, max(minimum, maximum)
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        return min(self.maximum, self.minimum * 2 ** (self.failures - 1))

    def reset(self) -> None:
        self.failures = 0


class Worker(db_worker.Worker):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.backoff = Backoff(settings.WORKER_DATABASE_RETRY_MIN, settings.WORKER_DATABASE_RETRY_MAX)

    def between_polls(self) -> None:
        """Work done before each poll (in this process, between tasks). Nothing here."""

    def run(self) -> None:
        logger.info("Starting worker worker_id=%s queues=%s", self.worker_id, ",".join(self.queue_names))
        if self.startup_delay and self.interval:
            time.sleep(random.random())  # spread the first polls of workers started together

        while self.running:
            try:
                self._between_polls()
                task_result = self.claim()
                if task_result is not None:
                    self.run_task(task_result)
                close_old_connections()
            except DatabaseError as exc:
                if not database_unavailable(exc):
                    raise
                self.wait_for_database(exc)
                continue
            self.backoff.reset()

            if self.batch and task_result is None:
                logger.info("No more tasks to run for worker_id=%s - exiting gracefully.", self.worker_id)
                return
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                logger.info("Run maximum tasks (%d) on worker=%s - exiting gracefully.", self._run_tasks,
                            self.worker_id)  # fmt: skip
                return
            if self.running and task_result is None:
                time.sleep(self.interval)

    def claim(self) -> DBTaskResult | None:
        """The next ready task, claimed for this worker; None when there is none. A lock raises (and is waited out
        in `run`), so None always means an empty queue."""
        close_old_connections()
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        with exclusive_transaction(tasks.db):
            task_result = tasks.get_locked()
            if task_result is not None:
                task_result.claim(self.worker_id)
        return task_result

    def wait_for_database(self, exc: DatabaseError) -> None:
        if any(c.in_atomic_block for c in connections.all(initialized_only=True)):
            # Called inside someone's transaction (a test's, a script's): its connection cannot be reopened, so
            # waiting cannot help.
            raise exc
        delay = self.backoff.next()
        logger.warning(
            "worker_id=%s: the database is unavailable (%s: %s); polling again in %g s (attempt %d)",
            self.worker_id, type(exc).__name__, exc, delay, self.backoff.failures,
        )  # fmt: skip
        for connection in connections.all(initialized_only=True):
            connection.close_if_unusable_or_obsolete()
        if self.running:
            time.sleep(delay)

    def _between_polls(self) -> None:
        try:
            self.between_polls()
        except DatabaseError as exc:
            if database_unavailable(exc):
                raise
            logger.exception("worker_id=%s: the work between polls failed; the worker goes on", self.worker_id)
        except Exception:
            logger.exception("worker_id=%s: the work between polls failed; the worker goes on", self.worker_id)


class Command(db_worker.Command):
    help = "Run a database background worker that waits out a locked or unreachable database"
    worker_class = Worker

    def handle(self, *, verbosity, queue_name, interval, batch, backend_name, startup_delay, reload, max_tasks,
               worker_id, exclude_queues, **options):  # fmt: skip
        self.configure_logging(verbosity)
        if reload and batch:
            logger.warning("Warning: --reload and --batch cannot be specified together. Disabling autoreload.")
            reload = False
        queue_names = queue_name.split(",")
        excluded_queue_names = exclude_queues.split(",") if exclude_queues else []
        if excluded_queue_names and "*" not in queue_names:
            raise db_worker.CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = self.worker_class(
            queue_names=queue_names, interval=interval, batch=batch, backend_name=backend_name,
            startup_delay=startup_delay, max_tasks=max_tasks, worker_id=worker_id,
            excluded_queue_names=excluded_queue_names,
        )  # fmt: skip
        if reload:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
