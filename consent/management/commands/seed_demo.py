import time

from django.core.management.base import BaseCommand, CommandError

from consent import demo, ledger
from consent.errors import ImportFailed, RuleViolation
from core.audit_log import Actor

SHOWN_PROBLEMS = 10


class Command(BaseCommand):
    help = (
        "Seed a synthetic population (no real people) through the real consent, item and erasure services: "
        "attribute mixes, withdrawals, expired consents, minors with and without guardians, items from sources "
        "of every copyright status, tabular features and small generated images."
    )

    def add_arguments(self, parser):
        parser.add_argument("--subjects", type=int, required=True, help="how many people to generate")
        parser.add_argument(
            "--images", type=int,
            help=f"how many subjects also get a generated face image (default: up to {demo.DEFAULT_MAX_IMAGES})",
        )  # fmt: skip
        parser.add_argument(
            "--seed", type=int, default=demo.DEFAULT_SEED, help="the same seed gives the same population"
        )
        parser.add_argument(
            "--demo-users",
            action="store_true",
            help="also create staff users steward, officer and auditor (password: demo), one per role",
        )

    def handle(self, *args, **options):
        started = time.perf_counter()
        try:
            summary = demo.seed_population(
                subjects=options["subjects"], images=options["images"], seed=options["seed"],
                actor=Actor.system("seed_demo"),
            )  # fmt: skip
        except demo.DemoError as exc:
            raise CommandError(str(exc)) from None
        except (RuleViolation, ImportFailed) as exc:
            # The demo's own data broke a rule: a bug in consent/demo.py, shown rather than hidden.
            details = [str(p) for p in getattr(exc, "problems", [])][:SHOWN_PROBLEMS]
            message = "\n  ".join([f"the demo data was refused ({exc}); nothing was written:", *details])
            raise CommandError(message) from exc
        users = demo.create_demo_users(password="demo") if options["demo_users"] else []  # noqa: S106 - local demo
        self._print(summary, elapsed=time.perf_counter() - started)
        if users:
            self.stdout.write(f"Demo users (password 'demo'): {', '.join(users)}")

    def _print(self, s: demo.DemoSummary, *, elapsed: float):
        write = self.stdout.write
        write(
            f"Seeded a synthetic population of {_n(s.people, 'person', 'people')} (seed {s.seed}; no real person "
            f"is represented) in {elapsed:.1f} s."
        )
        write(
            f"Subjects recorded: {s.subjects:,}, pseudonymous (SUBJ-000001...), from {len(s.jurisdictions)} EU states"
        )
        write("  " + _shares(s.jurisdictions, limit=8))
        write(
            f"  minors (10-17): {s.minors:,}; below their country's age of digital consent: "
            f"{s.minors_needing_guardian:,}, of whom {s.minors_with_guardian:,} with a guardian's consent"
        )
        write(f"  grants refused by the rules (minor without a guardian, not recorded): {s.refused_grants:,}")
        kinds = s.events_by_kind
        withdrawals = kinds.get("withdrawal", 0)
        write(
            f"Consent events: {_n(kinds.get('grant', 0), 'grant')}, {_n(withdrawals, 'withdrawal')} "
            f"({s.partial_withdrawals:,} of some purposes, {withdrawals - s.partial_withdrawals:,} of all), "
            f"{_n(kinds.get('erasure', 0), 'erasure')}"
        )
        write(f"  grants with an expiry date: {s.grants_with_expiry:,}, already expired: {s.expired_grants:,}")
        write(f"  consent for evaluation active now: {s.active_for_evaluation:,} of {s.subjects:,} subjects")
        write(
            f"Data items: {s.items:,} in {s.deliveries} quarterly deliveries, {s.images:,} of them generated "
            f"64x64 face images ({s.live_images:,} left after erasures)"
        )
        write("  live items by copyright status of their source: " + _counts(s.live_items_by_copyright))
        for name, label in (("skin_tone", "skin tone (monk_3)"), ("sex", "sex"), ("age_band", "age band")):
            write(f"  {label}: " + _shares(s.attribute_mix.get(name, {})))
        write(f"Erasure requests processed: {s.erasures:,} (their references, guardians, attributes and files removed)")
        write(f"Ledger: {ledger.verify().summary()}")


def _n(count: int, singular: str, plural: str = "") -> str:
    return f"{count:,} {singular if count == 1 else plural or singular + 's'}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {value:,}" for key, value in counts.items()) or "none"


def _shares(counts: dict[str, int], *, limit: int | None = None) -> str:
    total = sum(counts.values()) or 1
    shown = list(counts.items())[:limit] if limit else list(counts.items())
    text = ", ".join(f"{key} {value / total:.0%}" for key, value in shown)
    return text + (", ..." if limit and len(counts) > limit else "")
