"""The quarterly bias report, from a plain dict to HTML and PDF/A-3b. No Django here.

    render_html(context) -> str
    render_pdf(context, *, attachments={"evidence.json": b"..."}) -> bytes
    RenderError

`render_html` fills the Jinja2 templates in `templates/reports/` (StrictUndefined, autoescaping on) with the
context and inlines the charts as SVG (`reports.render.charts`). `render_pdf` lays that HTML out with
WeasyPrint on A4 as PDF/A-3b and embeds every attachment (file name -> bytes) as an associated file with
AFRelationship /Data; the report's methodology section lists each attachment's size and SHA-256.

Sections, in order: 1 cover and summary; 2 results by attribute (group table and chart); 3 intersections;
4 trend over four quarters; 5 data governance; 6 methodology and reproducibility; 7 sign-off.

A figure missing from the context raises `RenderError` naming the key and where it was looked for, for
example "the report context has no 'threshold' (in runs[0].attributes[0].gap)". Every key below is
required; a value shown as `x|None` may be None (it prints as a dash) but its key must be there. Keys marked
"optional" may be absent (contexts frozen in reports generated before they existed lack them).

The context (what `reports.context.build_context` builds)::

    {
     "report": {"id": "BR-2026-Q4-0001", "quarter": "2026-Q4", "title": "Quarterly bias report",
                "status": "draft" | "reviewed" | "approved", "generated_at": "2026-11-25T10:00:00+00:00",
                "code_version": "0.1.0+git.abc123"},
     "organisation": {"name": str, "contact": str, "address": str},
     "system": {"name": str, "description": str},
     "summary": [{"model": str, "attribute": str, "metric": "mean_score_gap" | any judged gap or ratio,
                  "value": float|None, "ci": [float|None, float|None], "threshold": float|None,
                  "verdict": "pass" | "fail" | "inconclusive" | "insufficient" | "",   # "" = not judged
                  "n_needed": int|None,
                  "scale": "difference" | "ratio"}],                      # optional; extra keys are ignored
     "threshold_note": str,
     "runs": [{
         "id": int, "period": "2026-Q4",
         "model": {"name": str, "version": str, "sha256": str},
         "evaluation_set": {"name": str, "manifest_sha256": str},
         "policy": {"name": str, "version": int, "threshold": float, "confidence": float, "replicates": int,
                    "seed": int, "min_group_size": int, "decision_threshold": float,
                    "ratio_threshold": float|None},                                    # optional
         "verdict": {"verdict": "pass" | "fail" | "inconclusive" | "insufficient",      # optional: the audit's own
                     "counts": {"pass": int, "fail": int, "inconclusive": int, "insufficient": int},
                     "judged": int, "failures": [str], "inconclusive": [str], "not_judged": [str],
                     "error_control": str},
         "score_artifact_sha256": str, "evidence_sha256": str,
         "labels": bool,                                        # TPR, FPR and FNR columns only when true
         "attributes": [{
             "name": "skin_tone:monk_3", "reference": str|None,
             "groups": [{"name": str, "n": int, "sufficient": bool, "mean_score": float|None,
                         "mean_score_ci": [lo, hi], "selection_rate": float|None,
                         "tpr": float|None, "fpr": float|None, "fnr": float|None}],   # in display order
             "gap": {"value", "ci": [lo, hi], "threshold", "verdict", "n_needed",
                     "highest": str|None, "lowest": str|None},
             "trend": None | {"slope": float|None, "ci": [lo, hi], "order": [str]}}],
         "intersections": {
             "largest": [{"grouping": "a & b", "value", "ci", "verdict", "highest", "lowest"}],  # sorted, cut
             "too_small": [{"grouping": str, "group": str, "n": int}]},
         "cross_check": {"libraries": {"fairlearn": "0.15.0", "aif360": "0.6.1"}, "compared": int,
                         "largest_difference": float, "tolerance": float, "passed": bool},
         "excluded": {reason: count}}],                       # excluded when the run started; may be empty
     "trend": [{"model": str, "attribute": str, "threshold": float|None,
                "points": [{"quarter": "2026-Q1", "value": float|None, "ci": [lo, hi], "verdict": str}]}],
                # up to four quarters, oldest first; a quarter with no run has value None.
                # Entries are charted per model (in first-seen order), two attributes to a chart.
     "governance": {
         "evaluation_sets": [{"name": str, "members": int, "audited": int, "consent_coverage": float (0-1),
                              "excluded": {reason: count},
                              "strata": [{"stratum": "dark | female", "available": int, "eligible": int,
                                          "drawn": int}],
                              "provenance": [{"source": str, "licence": str, "copyright_status": str,
                                              "items": int}]}],                   # may be empty
         "withdrawn_since_approval": [{"report": str, "quarter": str, "members": int}]},  # may be empty
     "methodology": {"metrics": {name: definition}, "bootstrap": str, "verdict_rule": str,
                     "libraries": {name: version}, "seeds": [int], "notes": [str],
                     "plain": str, "interval_rule": str, "n_needed": str},      # the last three optional
     "signoff": [{"action": "generated" | "reviewed" | "approved", "by": str, "role": str, "at": iso str,
                  "comment": str}],
     "findings_comments": [{"finding": str, "by": str, "at": str, "text": str}],
    }

Numbers are written as `reports.render.formatting` says: gaps, means and intervals with four decimals,
rates with three, counts with thousands separators.
"""

from reports.render.document import render_html, render_pdf
from reports.render.errors import RenderError

__all__ = ["RenderError", "render_html", "render_pdf"]
