"""Synthetic consent-event files for the benchmarks (no real people)."""

import numpy as np
import pandas as pd

NOTICE_PUBLISHED = "2024-01-01T00:00:00+00:00"
COUNTRIES = np.array(["DE", "FR", "IT", "ES", "PL", "NL", "BE", "AT", "IE", "SE"])
CHANNELS = np.array(["web_form", "in_app", "paper_form"])
PURPOSE_SETS = np.array(
    ["evaluation;bias_audit", "evaluation;bias_audit;training", "evaluation", "bias_audit;publication"]
)


def consent_events(n_events: int, *, seed: int = 7) -> pd.DataFrame:
    """About 70% of events are first grants, the rest withdrawals and re-grants of earlier subjects."""
    rng = np.random.default_rng(seed)
    n_subjects = int(n_events * 0.7)
    n_withdrawals = (n_events - n_subjects) * 2 // 3
    n_regrants = n_events - n_subjects - n_withdrawals
    base = np.datetime64("2024-02-01T00:00:00")
    grant_at = base + rng.integers(0, 365 * 24 * 3600, n_subjects).astype("timedelta64[s]")
    births = rng.integers(1950 * 12, 2005 * 12, n_subjects)
    subjects = np.char.add("SUBJ-", np.char.zfill(np.arange(n_subjects).astype(str), 8))
    grants = pd.DataFrame(
        {
            "subject": subjects,
            "jurisdiction": rng.choice(COUNTRIES, n_subjects),
            "birth_month": [f"{b // 12}-{b % 12 + 1:02d}" for b in births],
            "kind": "grant",
            "purposes": rng.choice(PURPOSE_SETS, n_subjects),
            "notice_version": "1",
            "channel": rng.choice(CHANNELS, n_subjects),
            "at": grant_at,
        }
    )
    who = rng.choice(n_subjects, n_withdrawals + n_regrants, replace=False)
    withdrawn, regranted = who[:n_withdrawals], who[n_withdrawals:]
    withdrawals = pd.DataFrame(
        {
            "subject": subjects[withdrawn],
            "jurisdiction": "",
            "birth_month": "",
            "kind": "withdrawal",
            "purposes": "",
            "notice_version": "",
            "channel": rng.choice(CHANNELS, n_withdrawals),
            "at": grant_at[withdrawn] + rng.integers(3600, 200 * 24 * 3600, n_withdrawals).astype("timedelta64[s]"),
        }
    )
    regrants = pd.DataFrame(
        {
            "subject": subjects[regranted],
            "jurisdiction": "",
            "birth_month": "",
            "kind": "grant",
            "purposes": "evaluation;bias_audit",
            "notice_version": "1",
            "channel": "in_app",
            "at": grant_at[regranted] + rng.integers(3600, 200 * 24 * 3600, n_regrants).astype("timedelta64[s]"),
        }
    )
    events = pd.concat([grants, withdrawals, regrants], ignore_index=True)
    events.insert(0, "event_id", np.char.add("EV-", np.arange(len(events)).astype(str)))
    events["collected_at"] = pd.to_datetime(events.pop("at")).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return events
