import io
import json

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditPolicy, AuditRun


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_define_policy_reads_bandings_and_references(frozen_set):
    output = run("define_policy", "--name", "q", "--attribute", "skin_tone:monk_3=light", "--attribute", "sex",
                 "--threshold", "0.04", "--bootstrap", "500", "--check-against", "q4")  # fmt: skip
    assert "Defined policy q v1" in output
    policy = AuditPolicy.objects.get(name="q")
    assert policy.attributes[0] == {"attribute": "skin_tone", "banding": "monk_3", "reference": "light"}
    assert (policy.threshold, policy.replicates) == (0.04, 500)


# The worker closes its database connection after each task, so the test runs outside a wrapping transaction.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_run_audit_queues_a_run_that_the_real_worker_then_executes(model, frozen_set, policy):
    output = run("run_audit", "--model", "demo-tabular-mlp:2026.4", "--evaluation-set", "q4", "--policy", "quarterly",
                 "--period", "2026-Q4")  # fmt: skip
    run_ = AuditRun.objects.get()
    assert f"Queued {run_}" in output and run_.status == AuditRun.Status.QUEUED
    call_command("db_worker", batch=True, startup_delay=False, reload=False, verbosity=0, stdout=io.StringIO())
    run_.refresh_from_db()
    assert run_.status == AuditRun.Status.SUCCEEDED, run_.reason
    assert run_.gap_results.filter(metric="mean_score_gap").count() == 3


def test_run_audit_wait_prints_the_verdict_table(model, frozen_set, policy, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    output = run("run_audit", "--model", "demo-tabular-mlp:2026.4", "--evaluation-set", "q4", "--policy",
                 "quarterly:1", "--period", "2026-Q4", "--wait", "--poll", "0.01")  # fmt: skip
    assert "succeeded in" in output
    assert "skin_tone:monk_3 & sex" in output and "mean_score_gap" in output
    assert "Cross-check:" in output and "Fairlearn" in output


def test_run_audit_names_what_it_cannot_find(model, frozen_set, policy):
    with pytest.raises(CommandError, match="no audit policy 'missing'"):
        run("run_audit", "--model", "demo-tabular-mlp:2026.4", "--evaluation-set", "q4", "--policy", "missing",
            "--period", "2026-Q4")  # fmt: skip
    with pytest.raises(CommandError, match="period"):
        run("run_audit", "--model", "demo-tabular-mlp:2026.4", "--evaluation-set", "q4", "--policy", "quarterly",
            "--period", "Q4-2026")  # fmt: skip


@pytest.fixture
def score_file(tmp_path):
    rows = []
    for i in range(400):
        group = ["a", "b"][i % 2]
        band = ["young", "mid", "old"][i % 3]
        score = 3 + (i % 5) + (2 if group == "b" else 0)
        rows.append({"id": f"p{i}", "score": score, "group": group, "band": band, "label": int(score >= 6)})
    path = tmp_path / "scores.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_audit_file_writes_the_documented_evidence(score_file, tmp_path):
    out = tmp_path / "evidence.json"
    output = run("audit_file", str(score_file), "--id-column", "id", "--score-column", "score", "--score-max", "10",
                 "--attribute", "group", "--attribute", "band:young,mid,old", "--label-column", "label",
                 "--decision-threshold", "6", "--bootstrap", "200", "--json", str(out))  # fmt: skip
    assert "Audited 400 rows" in output and "group" in output
    evidence = json.loads(out.read_text())
    group = evidence["attributes"]["group"]
    for name in ("n", "mean_score", "mean_score_ci", "selection_rate", "tpr", "fpr", "fnr"):
        assert name in group["groups"]["a"]
    # b's scores are 2 points (0.2 on the 0-1 scale) higher.
    assert group["mean_score_gap"]["value"] == pytest.approx(0.2)
    assert group["mean_score_gap"]["verdict"] == "fail"
    assert evidence["attributes"]["band"]["order"] == ["young", "mid", "old"]
    assert "trend" in evidence["attributes"]["band"]
    assert evidence["cross_check"]["passed"] and evidence["source"]["rows"] == 400
    assert evidence["policy"]["decision_threshold"] == pytest.approx(0.6)


def test_audit_file_names_the_row_and_column_of_bad_input_and_writes_nothing(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,score,group,label\n1,0.5,a,1\n2,1.5,b,0\n3,,a,2\n")
    out = tmp_path / "evidence.json"
    with pytest.raises(CommandError) as failed:
        run("audit_file", str(path), "--id-column", "id", "--score-column", "score", "--attribute", "group",
            "--label-column", "label", "--json", str(out))  # fmt: skip
    message = str(failed.value)
    assert "score: row 2: score 1.5 is outside 0 to 1.0" in message
    assert "score: row 3: the score is missing" in message
    assert "label: row 3: label '2' is not 0 or 1" in message
    assert not out.exists()


def test_audit_file_refuses_a_file_with_no_rows(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("id,score,group\n")
    with pytest.raises(CommandError, match="the file has no rows"):
        run("audit_file", str(path), "--id-column", "id", "--score-column", "score", "--attribute", "group",
            "--json", str(tmp_path / "e.json"))  # fmt: skip


def test_audit_file_also_renders_the_report_with_the_evidence_attached(score_file, tmp_path):
    from pypdf import PdfReader

    out, pdf = tmp_path / "evidence.json", tmp_path / "report.pdf"
    output = run("audit_file", str(score_file), "--id-column", "id", "--score-column", "score", "--score-max", "10",
                 "--attribute", "group", "--bootstrap", "100", "--json", str(out), "--pdf", str(pdf))  # fmt: skip
    assert f"Report written to {pdf}" in output
    reader = PdfReader(pdf)
    assert json.loads(reader.attachments["evidence.json"][0]) == json.loads(out.read_text())
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "scores.csv" in text and "0.2000" in text


def test_define_policy_takes_a_ratio_threshold_and_a_ratio_metric(db):
    output = run("define_policy", "--name", "ratios", "--attribute", "sex", "--metric", "mean_score_gap",
                 "--metric", "disparate_impact_ratio", "--ratio-threshold", "0.75")  # fmt: skip
    assert "Defined policy ratios v1" in output and "ratio threshold 0.75" in output
    policy = AuditPolicy.objects.get(name="ratios")
    assert (policy.ratio_threshold, policy.metrics) == (0.75, ["mean_score_gap", "disparate_impact_ratio"])
    run("define_policy", "--name", "ratios", "--attribute", "sex")
    assert AuditPolicy.objects.get(name="ratios", version=2).ratio_threshold == 0.8


def test_define_policy_refuses_a_ratio_threshold_of_one_naming_it(db):
    with pytest.raises(CommandError, match="ratio_threshold: 1.0 must be between 0 and 1"):
        run("define_policy", "--name", "ratios", "--attribute", "sex", "--ratio-threshold", "1")
    assert not AuditPolicy.objects.exists()


def test_audit_file_judges_the_disparate_impact_ratio_against_the_ratio_threshold(score_file, tmp_path):
    out = tmp_path / "evidence.json"
    output = run("audit_file", str(score_file), "--id-column", "id", "--score-column", "score", "--score-max", "10",
                 "--attribute", "group", "--decision-threshold", "6", "--metric", "disparate_impact_ratio",
                 "--ratio-threshold", "0.8", "--bootstrap", "200", "--no-intersections", "--json", str(out))  # fmt: skip
    evidence = json.loads(out.read_text())
    ratio = evidence["attributes"]["group"]["gaps"]["disparate_impact_ratio"]
    # a selects 2 of 5 score levels (0.4), b 4 of 5 (0.8): a ratio of 0.5, well under four-fifths.
    assert ratio["scale"] == "ratio" and ratio["value"] == pytest.approx(0.5)
    assert (ratio["threshold"], ratio["verdict"]) == (0.8, "fail")
    assert evidence["policy"]["ratio_threshold"] == 0.8
    assert evidence["verdict"]["verdict"] == "fail" and "group: disparate_impact_ratio" in evidence["verdict"]["failures"]
    lines = output.splitlines()
    table = lines.index(next(line for line in lines if line.startswith("Audit verdict:")))
    assert lines[table] == "Audit verdict: FAIL (2 of 2 judged fail)"
    row = next(line for line in lines if "disparate_impact_ratio" in line).split()
    assert row[0:3] == ["group", "disparate_impact_ratio", "0.5000"] and row[5:7] == ["0.8000", "FAIL"]
    assert lines[-1].startswith("Error control: ")


def test_audit_file_prints_each_warning_before_the_verdict_table(score_file, tmp_path):
    output = run("audit_file", str(score_file), "--id-column", "id", "--score-column", "score", "--score-max", "10",
                 "--attribute", "group", "--decision-threshold", "0.45", "--bootstrap", "50", "--json",
                 str(tmp_path / "e.json"))  # fmt: skip
    evidence = json.loads((tmp_path / "e.json").read_text())
    assert evidence["warnings"]
    for warning in evidence["warnings"]:
        assert f"Warning: {warning}" in output
        assert output.index(f"Warning: {warning}") < output.index("Audit verdict:")
    assert "selects all 400 rows" in output
