"""The audit's own verdict over every judged grouping and metric, with the error control it states."""

from audit.fairness.results import RunVerdict, Verdict
from audit.fairness.spec import AuditSpec
from audit.fairness.verdicts import VERDICT_FAIL, VERDICT_INCONCLUSIVE, VERDICT_INSUFFICIENT, VERDICT_PASS


def error_control(spec: AuditSpec, family: int) -> str:
    level = 1 - spec.confidence
    judged = "the one judged gap or ratio" if family == 1 else f"all {family} judged gaps and ratios"
    return (
        f"FAIL verdicts share one simultaneous band over every pair of groups of {judged} "
        f"(one max-|t| critical value), so the chance that any FAIL in this audit is false is at most {level:.0%}. "
        f"Each PASS needs every pair's one-sided {spec.confidence:.0%} upper bound under the threshold "
        f"(an intersection-union test), so each PASS is false with a chance of at most {level:.0%}."
    )


def run_verdict(verdicts: tuple[Verdict, ...], spec: AuditSpec, family: int) -> RunVerdict:
    def named(outcome):
        return tuple(f"{v.grouping}: {v.gap.metric}" for v in verdicts if v.gap.verdict == outcome)

    counts = {outcome: len(named(outcome))
              for outcome in (VERDICT_PASS, VERDICT_FAIL, VERDICT_INCONCLUSIVE, VERDICT_INSUFFICIENT)}  # fmt: skip
    if counts[VERDICT_FAIL]:
        overall = VERDICT_FAIL
    elif counts[VERDICT_INCONCLUSIVE] or (counts[VERDICT_INSUFFICIENT] and counts[VERDICT_PASS]):
        # A grouping that could not be judged leaves the audit open: it cannot pass on the others alone.
        overall = VERDICT_INCONCLUSIVE
    elif counts[VERDICT_PASS]:
        overall = VERDICT_PASS
    else:
        overall = VERDICT_INSUFFICIENT
    return RunVerdict(overall, counts, named(VERDICT_FAIL), named(VERDICT_INCONCLUSIVE),
                      named(VERDICT_INSUFFICIENT), error_control(spec, family))  # fmt: skip
