import argparse
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from audit import services
from audit.models import AuditPolicy, AuditRun
from audit.verdict_table import verdict_lines, warning_lines
from consent.errors import RuleViolation
from core.cli import actor_from_options, add_actor_argument
from scoring.models import EvaluationSet, ModelVersion

NO_WORKER_HINT = "still queued after {seconds} s: is a worker running? Start one with `manage.py db_worker`."


class Command(BaseCommand):
    help = "Start an audit run (model x evaluation set x policy, for a quarter); --wait follows it to the end."

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True, help="NAME:VERSION")
        parser.add_argument("--evaluation-set", required=True)
        parser.add_argument("--policy", required=True, help="NAME or NAME:VERSION (default: the latest version)")
        parser.add_argument("--period", required=True, help="reporting quarter, e.g. 2026-Q4")
        parser.add_argument("--wait", action="store_true", help="follow the run with progress, print the verdicts")
        parser.add_argument("--poll", type=float, default=0.5, help=argparse.SUPPRESS)
        add_actor_argument(parser)

    def handle(self, *args, **options):
        name, _, version = options["model"].partition(":")
        model = ModelVersion.objects.filter(name=name, version=version).first()
        if model is None:
            raise CommandError(f"no model version {options['model']!r} (write NAME:VERSION)")
        evaluation_set = EvaluationSet.objects.filter(name=options["evaluation_set"]).first()
        if evaluation_set is None:
            raise CommandError(f"no evaluation set {options['evaluation_set']!r}")
        policy = _policy(options["policy"])
        try:
            run = services.start_audit_run(
                actor=actor_from_options(options), model=model, evaluation_set=evaluation_set, policy=policy,
                period=options["period"],
            )  # fmt: skip
        except RuleViolation as exc:
            raise CommandError("\n".join(f"{field}: {message}" for field, message in exc.problems)) from None
        except PermissionError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Queued {run} with policy {policy} (task {run.task_id})")
        if options["wait"]:
            run = self._follow(run, options["poll"])
            self._report(run)

    def _follow(self, run: AuditRun, poll: float) -> AuditRun:
        started, hinted = time.monotonic(), False
        with tqdm(total=100, unit="%", desc="queued", file=self.stderr._out, disable=None) as bar:
            while True:
                services.reap_stale_runs()
                run.refresh_from_db()
                bar.set_description(run.stage or run.status)
                bar.update(round(run.progress * 100) - bar.n)
                if run.is_finished:
                    return run
                waited = time.monotonic() - started
                if run.status == AuditRun.Status.QUEUED and waited > 30 and not hinted:
                    bar.write(NO_WORKER_HINT.format(seconds=int(waited)))
                    hinted = True
                time.sleep(poll)

    def _report(self, run: AuditRun) -> None:
        if run.status != AuditRun.Status.SUCCEEDED:
            raise CommandError(f"{run} {run.status}: {run.reason}")
        seconds = (run.finished_at - run.started_at).total_seconds()
        self.stdout.write(f"{run} succeeded in {seconds:.1f} s; evidence sha256 {run.evidence_sha256}")
        for reason, count in run.excluded.items():
            self.stdout.write(f"  excluded, {reason}: {count}")
        self.stdout.write("")
        for line in [*warning_lines(run.evidence), *verdict_lines(run.evidence)]:
            self.stdout.write(line)


def _policy(text: str) -> AuditPolicy:
    name, _, version = text.partition(":")
    policies = AuditPolicy.objects.filter(name=name)
    if version:
        policies = policies.filter(version=int(version)) if version.isdigit() else policies.none()
    policy = policies.order_by("-version").first()
    if policy is None:
        raise CommandError(f"no audit policy {text!r}")
    return policy
