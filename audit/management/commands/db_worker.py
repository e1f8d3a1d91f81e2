"""`manage.py db_worker`: django-tasks-db's worker that waits out a locked database (core/worker.py) and, every
AUDIT_RUN_REAP_INTERVAL seconds between tasks, fails audit runs whose worker died (audit.services.reap_stale_runs).

It takes this app's name over django_tasks_db's (apps earlier in INSTALLED_APPS win), with the same options.
"""

import time

from django.conf import settings

from audit.services import reap_stale_runs
from core.worker import Command as WorkerCommand
from core.worker import Worker


class AuditWorker(Worker):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.next_reap = 0.0

    def between_polls(self) -> None:
        now = time.monotonic()
        if now >= self.next_reap:
            self.next_reap = now + settings.AUDIT_RUN_REAP_INTERVAL
            reap_stale_runs()


class Command(WorkerCommand):
    worker_class = AuditWorker
