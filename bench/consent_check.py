"""Benchmark: the bulk consent check ("is consent for evaluation active at T") for 1,000,000 subjects.

Target (issue 2): at most 2 s on SQLite. The population is inserted directly (not through
the importer, which has its own benchmark): one grant per subject, with withdrawals,
re-grants and expiring grants mixed in, so that the query has real histories to resolve.

Usage: python bench/consent_check.py [--subjects N] [--repeat K] [--database sqlite|postgres]
"""

import argparse
import os
import random
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness  # noqa: E402

TARGET_SECONDS = 2.0


def populate(n_subjects: int, seed: int = 11) -> datetime:
    import numpy as np
    from django.db import transaction
    from django.utils import timezone

    from consent.models import ConsentEvent, LedgerHead, Notice, Subject
    from consent.rules.purposes import mask_of
    from core.bulk import date_adapter, datetime_adapter, insert_rows, uuid_adapter

    rng = np.random.default_rng(seed)
    as_db, as_date, as_uuid = datetime_adapter(), date_adapter(), uuid_adapter()
    start = datetime(2024, 2, 1, tzinfo=UTC)
    with transaction.atomic():
        notice = Notice.objects.create(
            version="1", language="en", title="Notice", text="text", text_hash="0" * 64,
            purposes=["training", "evaluation", "bias_audit", "publication"], published_at=start,
        )  # fmt: skip
        now = as_db(timezone.now())
        insert_rows(
            Subject,
            ["key", "reference", "jurisdiction", "birth_month", "salt", "created_at"],
            (
                (as_uuid(uuid.uuid4()), f"SUBJ-{i:08d}", "DE", as_date(date(1980, 1, 1)), "", now)
                for i in range(n_subjects)
            ),
        )
        first_id = Subject.objects.order_by("pk").values_list("pk", flat=True).first()
        grant_offsets = rng.integers(0, 600 * 86400, n_subjects)
        masks = rng.choice([mask_of(["evaluation", "bias_audit"]), mask_of(["evaluation"]), mask_of(["training"])],
                           n_subjects, p=[0.7, 0.2, 0.1])  # fmt: skip
        expiring = rng.random(n_subjects) < 0.1
        withdrawn = rng.random(n_subjects) < 0.15
        regranted = withdrawn & (rng.random(n_subjects) < 0.3)
        rows = []
        sequence = 0
        for i in range(n_subjects):
            granted_at = start + timedelta(seconds=int(grant_offsets[i]))
            expires = granted_at + timedelta(days=200) if expiring[i] else None
            sequence += 1
            rows.append((sequence, f"G{i}", first_id + i, "grant", '["evaluation"]', int(masks[i]), notice.pk,
                         "web_form", as_db(granted_at), as_db(expires), now, "", "", "", "", "", None))  # fmt: skip
            if withdrawn[i]:
                sequence += 1
                rows.append((sequence, f"W{i}", first_id + i, "withdrawal", "[]", 15, None, "web_form",
                             as_db(granted_at + timedelta(days=30)), None, now, "", "", "", "", "", None))  # fmt: skip
            if regranted[i]:
                sequence += 1
                regrant_at = as_db(granted_at + timedelta(days=90))
                rows.append((sequence, f"R{i}", first_id + i, "grant", '["evaluation"]', int(masks[i]), notice.pk,
                             "in_app", regrant_at, None, now, "", "", "", "", "", None))  # fmt: skip
        insert_rows(ConsentEvent, [
            "sequence", "event_id", "subject", "kind", "purposes", "purpose_mask", "notice", "channel",
            "collected_at", "expires_at", "recorded_at", "evidence_hash", "age_rule_version", "personal_digest",
            "prev_hash", "hash", "import_batch",
        ], rows)  # fmt: skip
        LedgerHead.objects.filter(pk=1).update(sequence=sequence)
    print(f"population: {n_subjects:,} subjects, {sequence:,} consent events")
    return start + timedelta(days=400)


def run(database_url: str, var_dir: Path, n_subjects: int, repeat: int) -> list[float]:
    harness.setup_django(database_url, var_dir)
    from consent.models import Subject
    from consent.rules.purposes import Purpose
    from consent.selectors import is_consent_active, subjects_with_active_consent

    at = populate(n_subjects)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    seconds = []
    for _ in range(repeat):
        elapsed, active = harness.timed(subjects_with_active_consent, Purpose.EVALUATION, at)
        seconds.append(elapsed)
    print(f"  {len(active):,} of {n_subjects:,} subjects have active consent for evaluation at {at:%Y-%m-%d}")
    ids = list(Subject.objects.values_list("pk", flat=True))
    sample = Subject.objects.filter(pk__in=random.Random(3).sample(ids, min(300, len(ids))))
    mismatches = sum(is_consent_active(s, Purpose.EVALUATION, at) != (s.pk in active) for s in sample)
    print(f"  cross-check against the per-subject selector on {len(sample)} subjects: {mismatches} mismatch(es)")
    connection.close()  # so that the throwaway PostgreSQL database can be dropped
    return seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--subjects", type=int, default=int(os.environ.get("BENCH_SUBJECTS", 1_000_000)))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with harness.temp_dir("bench-check-") as tmp:
        tmp = Path(tmp)
        if args.database == "sqlite":
            seconds = run(harness.sqlite_url(tmp), tmp, args.subjects, args.repeat)
            harness.report(f"bulk consent check, {args.subjects:,} subjects, SQLite", seconds, target=TARGET_SECONDS)
        else:
            url = os.environ.get("BENCH_POSTGRES_URL", harness.DEFAULT_POSTGRES_URL)
            with harness.postgres_database(url) as database_url:
                if database_url is None:
                    print(f"bulk consent check on PostgreSQL: skipped, no server at {url}")
                    return
                seconds = run(database_url, tmp, args.subjects, args.repeat)
                harness.report(
                    f"bulk consent check, {args.subjects:,} subjects, PostgreSQL", seconds, target=TARGET_SECONDS
                )


if __name__ == "__main__":
    main()
