from django_tasks import task

from audit.services import execute_audit_run


@task()
def execute_audit_run_task(run_id: int) -> str:
    return execute_audit_run(run_id)
