"""A run whose worker died is failed within 2 minutes by the reaper, even when no other task starts, and a live run
is never mistaken for a dead one (issue 13, part 7). tests/security/test_worker_faults.py kills a real worker."""

import io
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from audit import services
from audit.fairness import AuditInputError
from audit.models import AuditRun
from core.audit_log import Actor
from tests.audit.conftest import demo, frozen_set, model, policy, queued_run  # noqa: F401 - fixtures

Status = AuditRun.Status
ACTOR = Actor.system("test")


def running(run, *, beat_ago: float) -> AuditRun:
    AuditRun.objects.filter(pk=run.pk).update(
        status=Status.RUNNING, attempts=1, heartbeat_at=timezone.now() - timedelta(seconds=beat_ago)
    )
    return AuditRun.objects.get(pk=run.pk)


def idle_worker_polls():
    """One pass of `manage.py db_worker` with nothing queued: no task starts, only the work between polls runs.
    The worker closes its connection between polls, so its tests run outside a wrapping transaction."""
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0, stdout=io.StringIO())


def test_the_production_timings_fail_a_dead_run_within_two_minutes():
    heartbeat, stale, reap = (django_settings.AUDIT_RUN_HEARTBEAT_SECONDS, django_settings.AUDIT_RUN_STALE_AFTER,
                              django_settings.AUDIT_RUN_REAP_INTERVAL)  # fmt: skip
    assert (heartbeat, stale, reap) == (15, 90, 15)
    # The worst case: the last beat just before the death, the reaper just before the run turns stale.
    assert stale + reap + 1 <= 120 and stale >= 3 * heartbeat


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_idle_worker_fails_a_run_with_no_heartbeat_for_the_stale_limit_when_no_task_starts(queued_run):  # noqa: F811
    dead = running(queued_run, beat_ago=django_settings.AUDIT_RUN_STALE_AFTER + 1)
    DBTaskResult.objects.filter(pk=dead.task_id).update(status="RUNNING")  # its worker claimed it, then died
    idle_worker_polls()
    dead.refresh_from_db()
    assert dead.status == Status.FAILED
    assert dead.reason.startswith("the worker stopped without finishing (no sign of life since")
    assert services.retry_audit_run(actor=ACTOR, run=dead).status == Status.QUEUED


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_idle_worker_leaves_a_run_that_beat_within_the_stale_limit(queued_run):  # noqa: F811
    alive = running(queued_run, beat_ago=django_settings.AUDIT_RUN_STALE_AFTER - 10)
    DBTaskResult.objects.filter(pk=alive.task_id).update(status="RUNNING")
    idle_worker_polls()
    alive.refresh_from_db()
    assert alive.status == Status.RUNNING


def test_a_queued_run_whose_task_ended_before_starting_it_is_failed_so_it_can_be_retried(queued_run):  # noqa: F811
    DBTaskResult.objects.filter(pk=queued_run.task_id).update(status="FAILED")  # e.g. the database was locked
    assert [r.pk for r in services.reap_stale_runs()] == [queued_run.pk]
    queued_run.refresh_from_db()
    assert queued_run.status == Status.FAILED and "its task ended before the run started" in queued_run.reason
    assert services.retry_audit_run(actor=ACTOR, run=queued_run).status == Status.QUEUED


def test_the_worker_reaps_at_most_once_per_reap_interval(queued_run, settings, monkeypatch):  # noqa: F811
    from audit.management.commands.db_worker import AuditWorker

    calls = []
    monkeypatch.setattr("audit.management.commands.db_worker.reap_stale_runs", lambda: calls.append(1))
    worker = AuditWorker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
                         max_tasks=None, worker_id="test", excluded_queue_names=[])  # fmt: skip
    settings.AUDIT_RUN_REAP_INTERVAL = 3600
    worker.between_polls()
    worker.between_polls()
    assert calls == [1]


# A thread of the worker beats while the run computes; with the stale limit at 3 s, a 4.5 s step with no progress
# to report would be reaped (by the thread's own reaper) if the beats stopped.
@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_live_run_keeps_beating_through_a_step_longer_than_the_stale_limit(queued_run, settings, monkeypatch):  # noqa: F811
    settings.AUDIT_RUN_HEARTBEAT_SECONDS, settings.AUDIT_RUN_STALE_AFTER = 1, 3
    started = {}

    def long_step_without_progress(run):
        started["at"] = timezone.now()
        time.sleep(4.5)
        raise AuditInputError([("", "stopped by the test")])

    monkeypatch.setattr(services, "_compute", long_step_without_progress)
    services.execute_audit_run(queued_run.pk)
    run = AuditRun.objects.get(pk=queued_run.pk)
    assert (run.status, run.reason) == (Status.FAILED, "stopped by the test")
    assert run.heartbeat_at - started["at"] >= timedelta(seconds=3)


def test_the_worker_backs_off_doubling_while_the_database_is_locked_and_goes_on_after(monkeypatch, caplog):
    """The loop itself, without a database: two polls meet a lock, the third finds the queue empty (batch mode ends)."""
    from django.db import OperationalError

    from core import worker as worker_module

    polls, waits = iter([OperationalError("database is locked"), OperationalError("database is locked"), None]), []

    def claim(self):
        outcome = next(polls)
        if outcome is not None:
            raise outcome

    monkeypatch.setattr(worker_module.Worker, "claim", claim)
    monkeypatch.setattr(worker_module, "close_old_connections", lambda: None)
    monkeypatch.setattr(worker_module, "connections", SimpleNamespace(all=lambda initialized_only=False: []))
    monkeypatch.setattr(worker_module.time, "sleep", waits.append)
    worker = worker_module.Worker(queue_names=["default"], interval=0, batch=True, backend_name="default",
                                  startup_delay=False, max_tasks=None, worker_id="test", excluded_queue_names=[])  # fmt: skip
    with caplog.at_level("WARNING", logger="django_tasks_db"):
        worker.run()
    assert waits == [1, 2]
    assert [r.getMessage() for r in caplog.records] == [
        "worker_id=test: the database is unavailable (OperationalError: database is locked); polling again in 1 s "
        "(attempt 1)",
        "worker_id=test: the database is unavailable (OperationalError: database is locked); polling again in 2 s "
        "(attempt 2)",
    ]
    assert worker.backoff.failures == 0  # the successful poll starts the wait over


def test_the_backoff_doubles_up_to_its_cap():
    from core.worker import Backoff

    backoff = Backoff(1, 30)
    assert [backoff.next() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    backoff.reset()
    assert backoff.next() == 1
