import hashlib
from pathlib import Path

import orjson
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.fairness import AttributeSpec, AuditInputError, AuditSpec, CrossCheckError, evidence_for, from_frame
from audit.fairness.data import read_score_file
from audit.fairness.spec import FOUR_FIFTHS
from audit.verdict_table import verdict_lines, warning_lines


def _attribute(text: str) -> AttributeSpec:
    """COLUMN, COLUMN=REFERENCE, or COLUMN:ORDERED,VALUES for an ordinal attribute (e.g. age_cat:young,mid,old)."""
    name, _, reference = text.partition("=")
    name, _, order = name.partition(":")
    values = tuple(v.strip() for v in order.split(",")) if order else None
    return AttributeSpec(name=name.strip(), order=values, reference=reference.strip() or None)


class Command(BaseCommand):
    help = (
        "Audit a CSV or Parquet file of precomputed scores without the registry: group figures, gaps with "
        "bootstrap intervals, verdicts and the Fairlearn/AIF360 cross-check, written as evidence JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--id-column", required=True)
        parser.add_argument("--score-column", required=True)
        parser.add_argument("--score-max", type=float, default=1.0, help="scores (and targets) are divided by it")
        parser.add_argument(
            "--attribute", action="append", required=True, metavar="COLUMN[:ORDER][=REFERENCE]",
            help="repeat for each protected attribute; ORDER lists an ordinal attribute's values, comma-separated",
        )  # fmt: skip
        parser.add_argument("--label-column", help="binary ground truth (0/1): adds TPR, FPR, FNR, precision")
        parser.add_argument("--target-column", help="continuous ground truth on the score's scale: adds errors")
        parser.add_argument("--decision-threshold", type=float, default=0.5, help="on the file's own score scale")
        parser.add_argument("--threshold", type=float, default=0.05, help="gap threshold, on the 0-1 scale")
        parser.add_argument(
            "--ratio-threshold", type=float, default=FOUR_FIFTHS,
            help="threshold of the ratio metrics (lowest group over highest); 0.8 is the four-fifths rule",
        )  # fmt: skip
        parser.add_argument("--confidence", type=float, default=0.95)
        parser.add_argument("--bootstrap", type=int, default=1000, help="replicates")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--min-group-size", type=int, default=30)
        parser.add_argument(
            "--metric", action="append", help="gap or ratio judged (repeatable; mean_score_gap is always judged)"
        )
        parser.add_argument("--no-intersections", action="store_true")
        parser.add_argument("--json", required=True, type=Path, dest="out", help="where to write the evidence")
        parser.add_argument("--pdf", type=Path, help="also render the report (PDF/A-3b, evidence attached) here")

    def handle(self, *args, **options):
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            attributes = tuple(_attribute(a) for a in options["attribute"])
            spec = AuditSpec(
                attributes=attributes, threshold=options["threshold"], ratio_threshold=options["ratio_threshold"],
                confidence=options["confidence"], replicates=options["bootstrap"], seed=options["seed"],
                min_group_size=options["min_group_size"],
                decision_threshold=options["decision_threshold"] / options["score_max"],
                metrics=tuple(options["metric"] or ("mean_score_gap",)),
                intersections=not options["no_intersections"],
            )  # fmt: skip
            frame = read_score_file(path)
            data = from_frame(
                frame, id_column=options["id_column"], score_column=options["score_column"], attributes=attributes,
                label_column=options["label_column"], target_column=options["target_column"],
                score_max=options["score_max"], decision_threshold=options["decision_threshold"],
            )  # fmt: skip
            source = {
                "kind": "file",
                "file": path.name,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "rows": len(frame),
                "columns": {key: options[key] for key in ("id_column", "score_column", "label_column",
                                                          "target_column", "score_max", "decision_threshold")},
                "audited_at": timezone.now().isoformat(),
            }  # fmt: skip
            evidence = evidence_for(data, spec, source=source)
        except AuditInputError as exc:
            raise CommandError(
                f"{path.name}: nothing was audited\n"
                + "\n".join(f"  {field}: {message}" if field else f"  {message}" for field, message in exc.problems)
            ) from None
        except CrossCheckError as exc:
            raise CommandError("the cross-check failed:\n" + "\n".join(f"  {d}" for d in exc.disagreements)) from None
        document = orjson.dumps(evidence, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        options["out"].write_bytes(document)
        self.stdout.write(f"Audited {len(data):,} rows of {path.name}; evidence written to {options['out']}")
        if options["pdf"]:
            from reports.services import render_file_report  # the report layer sits above the audit layer

            options["pdf"].write_bytes(render_file_report(evidence, document))
            self.stdout.write(f"Report written to {options['pdf']}")
        self.stdout.write("")
        for line in [*warning_lines(evidence), *verdict_lines(evidence)]:
            self.stdout.write(line)
