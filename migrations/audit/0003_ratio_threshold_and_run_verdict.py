"""Policies gain a ratio threshold (0.8: the four-fifths rule); runs keep their audit-level verdict; gaps keep the
bound a pass is decided on. Runs stored before this get their verdict from their stored gap verdicts, by the
engine's rule: fail if any fails, else inconclusive if any is, else pass if any passes, else insufficient."""

import audit.models
from django.db import migrations, models

ORDER = ("fail", "inconclusive", "pass", "insufficient")


def backfill_run_verdicts(apps, schema_editor):
    AuditRun = apps.get_model("audit", "AuditRun")
    GapResult = apps.get_model("audit", "GapResult")
    verdicts: dict[int, set[str]] = {}
    for run_id, verdict in GapResult.objects.exclude(verdict="").values_list("run_id", "verdict"):
        verdicts.setdefault(run_id, set()).add(verdict)
    for run_id, found in verdicts.items():
        overall = next((v for v in ORDER if v in found), "")
        AuditRun.objects.filter(pk=run_id, status="succeeded").update(verdict=overall)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_roles")]

    operations = [
        migrations.AddField(
            model_name="auditpolicy",
            name="ratio_threshold",
            field=models.FloatField(
                default=0.8,
                help_text="ratio metrics (lowest group over highest) fail when credibly under it; 0.8 is the "
                "four-fifths rule",
                validators=[audit.models.validate_ratio_threshold],
            ),
        ),
        migrations.AlterField(
            model_name="auditpolicy",
            name="metrics",
            field=models.JSONField(help_text="gap and ratio metrics judged against their thresholds"),
        ),
        migrations.AddField(
            model_name="auditrun",
            name="verdict",
            field=models.CharField(
                blank=True,
                choices=[("pass", "Pass"), ("fail", "Fail"), ("inconclusive", "Inconclusive"),
                         ("insufficient", "Insufficient")],
                help_text="the audit's own verdict: fail if any judged gap fails, pass only if every judged one "
                "passes",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="gapresult",
            name="pass_bound",
            field=models.FloatField(help_text="the bound a pass is decided on (see the evidence's rule)", null=True),
        ),
        migrations.RunPython(backfill_run_verdicts, migrations.RunPython.noop),
    ]
