from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from consent import demo, ledger
from consent.rules.purposes import Purpose
from consent.selectors import subjects_with_active_consent


class Command(BaseCommand):
    help = "Seed a synthetic population (no real people) through the real consent and item imports."

    def add_arguments(self, parser):
        parser.add_argument("--subjects", type=int, default=2000)
        parser.add_argument("--images", type=int, help="how many items get a generated image (default: up to 300)")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--demo-users",
            action="store_true",
            help="also create staff users steward, officer and auditor (password: demo), one per role",
        )

    def handle(self, *args, **options):
        subjects = options["subjects"]
        if subjects < 1:
            raise CommandError("--subjects must be at least 1")
        images = options["images"] if options["images"] is not None else min(subjects, 300)
        try:
            summary = demo.seed(subjects=subjects, images=images, seed=options["seed"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        active = subjects_with_active_consent(Purpose.EVALUATION, timezone.now())
        write = self.stdout.write
        write(f"Seeded a synthetic population of {summary.subjects:,} people (no real person is represented).")
        write("Consent events: " + ", ".join(f"{n:,} {kind}s" for kind, n in sorted(summary.events_by_kind.items())))
        write(f"  grants refused by the rules (minor without a guardian): {summary.refused_grants:,}")
        write(
            f"  below their country's age of digital consent: {summary.minors:,}, "
            f"of whom {summary.minors_with_guardian:,} with a guardian's consent"
        )
        write(f"  grants already expired: {summary.expired_grants:,}")
        write(f"  consent for evaluation active now: {len(active):,} subjects")
        total = sum(summary.items_by_copyright.values())
        write(
            f"Data items: {total:,} ({summary.images:,} with a generated image), by copyright status of their source:"
        )
        for status, count in sorted(summary.items_by_copyright.items()):
            write(f"  {status}: {count:,}")
        write(f"Erasure requests processed: {summary.erasures:,}")
        write(f"Ledger: {ledger.verify().summary()}")
        if options["demo_users"]:
            names = demo.create_demo_users(password="demo")  # noqa: S106 - a local demo database only
            write(f"Demo users (password 'demo'): {', '.join(names)}")
