from django_tasks import task

from consent import checkpoints
from core.audit_log import Actor


@task()
def ledger_checkpoint_task() -> str:
    """Sign the ledger head when it moved since the last checkpoint, then queue the next run.

    django-tasks has no schedules, so the task re-enqueues itself (`run_after` one
    LEDGER_CHECKPOINT_INTERVAL on), also when this run fails: a missing key or a refused
    checkpoint is retried at the next interval, and the failure stays in the task's result.
    """
    try:
        written = checkpoints.write_checkpoint(actor=Actor.system("task:ledger_checkpoint"), only_if_moved=True)
    finally:
        checkpoints.enqueue_next_checkpoint()
    return written.summary() if written else "the ledger head has not moved since the last checkpoint"
