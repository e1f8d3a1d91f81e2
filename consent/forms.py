"""Forms of the consent pages. They only shape input; the services decide what may be recorded.

The grant and withdrawal forms are deliberately the same size (GDPR Art. 7(3): withdrawing must
be as easy as granting): purposes and channel each, plus the notice shown for a grant.
Each render carries a fresh event id, so a form submitted twice records one event.
"""

import uuid

from django import forms
from django.conf import settings

from consent.errors import RuleViolation
from consent.models import Channel, Notice
from consent.rules.purposes import Purpose
from core.uploads import CappedUploadsForm, size_label

PURPOSE_CHOICES = [(purpose.value, purpose.label) for purpose in Purpose]
# How the subject gave or withdrew consent. API calls record themselves; a person at a form never picks it.
FORM_CHANNELS = [(value, label) for value, label in Channel.choices if value != Channel.API]


def channel_choices(question: str) -> list[tuple[str, str]]:
    return [("", question), *FORM_CHANNELS]


EVENT_ID_REUSED = "This form was already submitted with other content. Reload the page and record it again."
CONFIRMATION_MISMATCH = "Type the subject's reference exactly as shown to confirm."
FILE_TOO_LARGE = "The file is larger than {cap}, the most an upload here takes; import it with the management command."


def new_event_id() -> str:
    return str(uuid.uuid4())


class EventForm(forms.Form):
    """What a grant, a withdrawal and an erasure share: a channel and the event id of this render."""

    # The service's name for a field -> this form's, where they differ; others become form-wide errors.
    field_names: dict[str, str] = {}
    channel_question = "How was it given?"

    channel = forms.ChoiceField(choices=FORM_CHANNELS)
    event_id = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("event_id", new_event_id())
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = channel_choices(self.channel_question)

    def add_violation(self, violation: RuleViolation) -> None:
        """Put each (field, message) of a refused write next to the field it names."""
        for field, message in violation.problems:
            if field == "event_id":
                self.add_error(None, EVENT_ID_REUSED)
                continue
            field = self.field_names.get(field, field)
            self.add_error(field if field in self.fields else None, message)


class PurposesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=PURPOSE_CHOICES, **kwargs)


class NoticeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, notice: Notice) -> str:
        return f"{notice.title} · v{notice.version} ({notice.language})"


class GrantForm(EventForm):
    field_names = {"notice_version": "notice", "guardian": "guardian_reference"}
    field_order = ["purposes", "notice", "channel", "guardian_reference"]

    purposes = PurposesField(label="Purposes granted")
    notice = NoticeChoiceField(queryset=Notice.objects.none(), label="Notice shown", empty_label=None)

    def __init__(self, *args, notices, guardian_needed: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["notice"].queryset = notices
        if guardian_needed:
            # Only for a subject below the age of digital consent (GDPR Art. 8).
            self.fields["guardian_reference"] = forms.CharField(
                label="Guardian's reference",
                max_length=128,
                help_text="Below the age of digital consent a guardian must consent; their pseudonymous reference.",
            )
        self.order_fields(self.field_order)


class WithdrawForm(EventForm):
    field_order = ["purposes", "channel"]
    channel_question = "How was it withdrawn?"

    purposes = PurposesField(label="Purposes withdrawn")


class EraseForm(EventForm):
    channel_question = "How was erasure asked for?"

    confirm_reference = forms.CharField(label="Type the subject's reference to confirm", max_length=128)

    def __init__(self, *args, reference: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.reference = reference
        self.order_fields(["confirm_reference", "channel"])

    def clean_confirm_reference(self):
        typed = self.cleaned_data["confirm_reference"].strip()
        if typed != self.reference:
            raise forms.ValidationError(CONFIRMATION_MISMATCH)
        return typed


class ImportForm(CappedUploadsForm):
    """The upload stops at MAX_IMPORT_UPLOAD_BYTES while it streams in (`upload_caps` on the view)."""

    too_large_message = FILE_TOO_LARGE

    file = forms.FileField(
        label="File",
        help_text="CSV (UTF-8, header row) or Parquet.",
        widget=forms.FileInput(attrs={"accept": ".csv,.parquet"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        cap = settings.MAX_IMPORT_UPLOAD_BYTES
        if upload.size > cap:  # kept in case a file arrives some other way than through the capped handler
            raise forms.ValidationError(FILE_TOO_LARGE.format(cap=size_label(cap)))
        return upload


class SubjectSearchForm(forms.Form):
    q = forms.CharField(label="Subject reference", required=False, max_length=128)
