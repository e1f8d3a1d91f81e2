import pytest
from django.core.management import CommandError, call_command

from consent.models import Notice
from core.models import AuditLogEntry


def test_it_publishes_a_notice(db, tmp_path, capsys):
    text = tmp_path / "notice.txt"
    text.write_text("We ask your consent to evaluate our model.", encoding="utf-8")
    call_command(
        "publish_notice", notice_version="2", language="fr", title="Consentement", text_file=text,
        purposes="evaluation;bias_audit",
    )  # fmt: skip
    notice = Notice.objects.get(version="2", language="fr")
    assert notice.purposes == ["evaluation", "bias_audit"]
    assert "Published notice 2/fr" in capsys.readouterr().out
    entry = AuditLogEntry.objects.get(action="notice.publish")
    assert entry.actor_label.startswith("cli:")


def test_it_refuses_an_unknown_purpose(db, tmp_path):
    text = tmp_path / "notice.txt"
    text.write_text("text", encoding="utf-8")
    with pytest.raises(CommandError, match="unknown purpose 'ads'"):
        call_command("publish_notice", notice_version="2", language="fr", title="t", text_file=text, purposes="ads")
    assert not Notice.objects.exists()
