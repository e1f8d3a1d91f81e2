"""The report pages' forms: generate, comment on a finding, move a report on, verify a file."""

from io import BytesIO

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from audit.models import validate_period
from audit.selectors import audited_model_versions

VERIFY_MAX_BYTES = 25 * 1024 * 1024
VERIFY_MAX_LABEL = "25 MB"
COMMENT_MAX_CHARS = 4000


class GenerateReportForm(forms.Form):
    quarter = forms.CharField(
        max_length=7, validators=[validate_period], help_text="The reporting quarter, e.g. 2026-Q4.",
        widget=forms.TextInput(attrs={"list": "audited-quarters", "placeholder": "2026-Q4", "size": 9}),
    )  # fmt: skip
    model = forms.ModelChoiceField(
        queryset=audited_model_versions(), required=False, empty_label="All models audited in the quarter",
        help_text="One model, or every model with a completed audit run in the quarter.",
    )  # fmt: skip


class CommentForm(forms.Form):
    finding = forms.CharField(widget=forms.HiddenInput, max_length=400)
    text = forms.CharField(
        label="Comment", max_length=COMMENT_MAX_CHARS, error_messages={"required": "Write what you found."},
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What you checked and what you found"}),
    )  # fmt: skip

    def __init__(self, *args, findings: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.findings = findings

    def clean_finding(self):
        finding = self.cleaned_data["finding"]
        if finding not in self.findings:
            raise ValidationError("This report has no such finding.")
        return finding


class StepForm(forms.Form):
    """Review or approval: a comment is optional and goes into the report's sign-off."""

    comment = forms.CharField(
        required=False, max_length=1000, label="Comment (optional)",
        widget=forms.Textarea(attrs={"rows": 2}), help_text="Printed in the report's sign-off section.",
    )  # fmt: skip


class ReturnToDraftForm(forms.Form):
    comment = forms.CharField(
        max_length=1000, label="Why it goes back", widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The reviewer reads this; it is kept in the report's history.",
        error_messages={"required": "Say why the report goes back to draft."},
    )  # fmt: skip


class CappedMemoryUpload(FileUploadHandler):
    """Keeps an uploaded file in memory up to `limit` bytes and never on disk; a larger file is read past and
    dropped (`too_large` says so), so a PDF to verify is never stored."""

    def __init__(self, request=None, *, limit: int = VERIFY_MAX_BYTES):
        super().__init__(request)
        self.limit = limit
        self.too_large = False

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.buffer = BytesIO()

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.too_large = True
            self.buffer = BytesIO()
        elif not self.too_large:
            self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size):
        if self.too_large:
            return None
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer, field_name=self.field_name, name=self.file_name, content_type=self.content_type,
            size=file_size, charset=self.charset, content_type_extra=self.content_type_extra,
        )  # fmt: skip


class VerifyForm(forms.Form):
    file = forms.FileField(
        label="Report PDF",
        help_text=f"A PDF of at most {VERIFY_MAX_LABEL}. It is checked in memory and not kept.",
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > VERIFY_MAX_BYTES:
            raise ValidationError(f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is {VERIFY_MAX_LABEL}.")
        data = upload.read()
        if not data.startswith(b"%PDF-"):
            raise ValidationError("This is not a PDF file.")
        return data
