from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from consent.errors import RuleViolation
from core.cli import actor_from_options, add_actor_argument
from core.files import removed_unless_committed
from reports import services
from reports.models import IllegalTransition, Report


class Command(BaseCommand):
    help = "Review a draft report (auditor), with comments on findings, or approve a reviewed one (officer)."

    def add_arguments(self, parser):
        parser.add_argument("report_id")
        parser.add_argument("--comment-on", action="append", default=[], metavar="FINDING=TEXT",
                            help="a comment on one finding, e.g. 'skin_tone:monk_3 / mean_score_gap=...'")  # fmt: skip
        parser.add_argument("--approve", action="store_true", help="approve and sign (compliance officer)")
        parser.add_argument("--comment", default="")
        add_actor_argument(parser)

    def handle(self, *args, **options):
        report = Report.objects.filter(report_id=options["report_id"]).first()
        if report is None:
            raise CommandError(f"no report {options['report_id']!r}")
        actor = actor_from_options(options)
        try:
            with removed_unless_committed(), transaction.atomic():  # comments and the step land together
                self._act(actor, report, options)
        except (RuleViolation, PermissionError, IllegalTransition) as exc:
            raise CommandError(str(exc)) from None
        report.refresh_from_db()
        self.stdout.write(f"Report {report.report_id} is {report.status}: {services.report_file(report)}")

    def _act(self, actor, report, options):
        for item in options["comment_on"]:
            finding, sep, text = item.partition("=")
            if not sep:
                raise CommandError(f"--comment-on {item!r}: write FINDING=TEXT")
            services.comment_on_finding(actor=actor, report=report, finding=finding, text=text)
        if options["approve"]:
            services.approve_report(actor=actor, report=report, comment=options["comment"])
        else:
            services.review_report(actor=actor, report=report, comment=options["comment"])
