import secrets
import uuid

from django.db import models

from consent.rules.attribute_schema import AttributeSchema as AttributeRules
from consent.rules.purposes import Purpose, purposes_of


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise ValueError(f"{self.model.__name__} rows are append-only; record a new event instead")

    def delete(self):
        raise ValueError(f"{self.model.__name__} rows are append-only; record a new event instead")


PURPOSE_CHOICES = [(p.value, p.label) for p in Purpose]


def new_salt() -> str:
    """128 random bits for the subject's personal digests in the ledger."""
    return secrets.token_hex(16)


class Channel(models.TextChoices):
    WEB_FORM = "web_form", "Web form"
    IN_APP = "in_app", "In-app"
    PAPER_FORM = "paper_form", "Paper form"
    EMAIL = "email", "E-mail"
    API = "api", "API"


CHANNEL_VALUES = frozenset(Channel.values)


class EventKind(models.TextChoices):
    GRANT = "grant", "Grant"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    ERASURE = "erasure", "Erasure"


class Subject(models.Model):
    """A person, known only by a pseudonymous reference that the organisation controls.

    No names or contact data are stored. Erasure clears the reference, jurisdiction,
    birth month and the salt of the ledger's personal digests; the row stays so that the
    ledger and the counts of past audits still add up.
    """

    key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    reference = models.CharField(max_length=128, unique=True, null=True, blank=True)
    jurisdiction = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    birth_month = models.DateField(null=True, blank=True, help_text="first day of the birth month")
    salt = models.CharField(max_length=32, blank=True, default=new_salt, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        permissions = [
            ("withdraw_consent", "Can record a consent withdrawal"),
            ("erase_subject", "Can erase a subject's personal data"),
            ("import_consent", "Can import consent events"),
            ("export_receipt", "Can export a subject's consent receipt"),
        ]

    def __str__(self):
        return self.reference or f"erased subject {self.key}"

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    def audit_view(self) -> dict:
        # The audit log outlives erasure, so it never holds personal data: the key only.
        return {"key": str(self.key), "erased": self.is_erased}


class Notice(models.Model):
    """A version of the consent text shown to people, and the purposes it offers."""

    version = models.CharField(max_length=32)
    language = models.CharField(max_length=16, help_text="BCP 47 tag, e.g. en or fr-BE")
    title = models.CharField(max_length=200)
    text = models.TextField()
    text_hash = models.CharField(max_length=64, editable=False)
    purposes = models.JSONField()
    published_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-published_at"]
        constraints = [models.UniqueConstraint(fields=["version", "language"], name="notice_version_language_unique")]

    def __str__(self):
        return f"{self.title} v{self.version} ({self.language})"

    @property
    def label(self) -> str:
        return f"{self.version}/{self.language}"

    def audit_view(self) -> dict:
        return {
            "version": self.version,
            "language": self.language,
            "text_hash": self.text_hash,
            "purposes": self.purposes,
            "published_at": self.published_at,
        }


class ImportBatch(models.Model):
    class Kind(models.TextChoices):
        CONSENT = "consent", "Consent events"
        ITEMS = "items", "Data items"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    source_name = models.CharField(max_length=500)
    source_sha256 = models.CharField(max_length=64, blank=True)
    rows = models.PositiveIntegerField()
    created = models.PositiveIntegerField()
    unchanged = models.PositiveIntegerField(help_text="rows already recorded identically, skipped")
    imported_at = models.DateTimeField(auto_now_add=True)
    actor_label = models.CharField(max_length=150)

    class Meta:
        ordering = ["-imported_at"]
        verbose_name_plural = "import batches"

    def __str__(self):
        return f"{self.get_kind_display()} from {self.source_name} ({self.created} new)"

    def audit_view(self) -> dict:
        return {
            "kind": self.kind,
            "source": self.source_name,
            "sha256": self.source_sha256,
            "rows": self.rows,
            "created": self.created,
            "unchanged": self.unchanged,
        }


class SequenceField(models.BigIntegerField):
    """The position in the ledger, used as the primary key: one index fewer on the hottest table.

    On SQLite the column is declared INTEGER so that it is the table's rowid rather than a
    second B-tree beside it.
    """

    def db_type(self, connection):
        return "integer" if connection.vendor == "sqlite" else super().db_type(connection)


class ConsentEvent(models.Model):
    """One entry of the append-only, hash-chained consent ledger.

    A withdrawal or an erasure is a new event; no event is ever edited or deleted (the
    database refuses updates with a trigger). `hash` covers the event's content and the
    previous event's hash, see consent/rules/ledger.py.
    """

    sequence = SequenceField(primary_key=True)
    event_id = models.CharField(max_length=100, unique=True, help_text="the client's id; makes recording idempotent")
    # Indexed by consent_event_state_idx, which leads with the subject.
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="events", db_index=False)
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    purposes = models.JSONField(help_text="purposes granted or withdrawn")
    purpose_mask = models.PositiveSmallIntegerField()
    # Notices and import batches are never deleted, so these keys need no index of their own.
    notice = models.ForeignKey(
        Notice, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    collected_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    recorded_at = models.DateTimeField()
    evidence_hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the signed form or capture")
    age_rule_version = models.CharField(max_length=32, blank=True)
    personal_digest = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    import_batch = models.ForeignKey(
        ImportBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["sequence"]
        indexes = [
            # Serves the bulk consent check: per subject, the latest event at or before T.
            models.Index(
                fields=["subject", "collected_at", "sequence", "purpose_mask", "kind", "expires_at"],
                name="consent_event_state_idx",
            ),
        ]

    def __str__(self):
        return f"#{self.sequence} {self.kind} {self.event_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Consent events are append-only; record a new event instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Consent events are append-only; record a new event instead")

    @property
    def purpose_list(self) -> list[Purpose]:
        return purposes_of(self.purpose_mask)


class GuardianConsent(models.Model):
    """The guardian who consented for a minor (GDPR Art. 8); deleted on the subject's erasure."""

    event = models.OneToOneField(ConsentEvent, on_delete=models.CASCADE, related_name="guardian")
    reference = models.CharField(max_length=128, help_text="pseudonymous reference of the guardian")

    def __str__(self):
        return self.reference


class LedgerHead(models.Model):
    """The single row holding the ledger's last sequence and hash; locked to append."""

    sequence = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="ledger_head_single_row")]

    def __str__(self):
        return f"ledger head #{self.sequence} {self.hash[:12]}"


class AttributeSchema(models.Model):
    """A versioned definition of protected attributes (values, ordinality, bandings)."""

    name = models.CharField(max_length=100)
    version = models.CharField(max_length=32)
    definition = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="attribute_schema_unique")]

    def __str__(self):
        return f"{self.name} v{self.version}"

    def rules(self) -> AttributeRules:
        return AttributeRules.from_json(self.definition)

    def audit_view(self) -> dict:
        return {"name": self.name, "version": self.version, "definition": self.definition}


class Dataset(models.Model):
    """A collection of data items with its datasheet (Gebru et al., "Datasheets for Datasets")."""

    name = models.CharField(max_length=200)
    version = models.CharField(max_length=32)
    attribute_schema = models.ForeignKey(AttributeSchema, on_delete=models.PROTECT, related_name="datasets")
    motivation = models.TextField()
    collection_process = models.TextField()
    known_limitations = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="dataset_name_version_unique")]
        permissions = [
            ("import_items", "Can import data items"),
            ("view_protected_attributes", "Can read item-level protected attributes"),
        ]

    def __str__(self):
        return f"{self.name} v{self.version}"

    def audit_view(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "attribute_schema": str(self.attribute_schema),
            "motivation": self.motivation,
            "collection_process": self.collection_process,
            "known_limitations": self.known_limitations,
        }


class CopyrightStatus(models.TextChoices):
    OWNED = "owned", "Owned"
    LICENSED = "licensed", "Licensed"
    PUBLIC_DOMAIN = "public_domain", "Public domain"
    UNKNOWN = "unknown", "Unknown"
    DISPUTED = "disputed", "Disputed"


class Source(models.Model):
    """Where items came from: origin, licence (SPDX) and copyright status."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="sources")
    name = models.CharField(max_length=200)
    origin = models.CharField(max_length=500, help_text="who collected it and how, or a URL")
    licence = models.CharField(max_length=200, help_text="SPDX licence id or expression")
    copyright_status = models.CharField(max_length=16, choices=CopyrightStatus.choices)
    collection_start = models.DateField()
    collection_end = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="source_dataset_name_unique"),
            models.CheckConstraint(
                condition=models.Q(collection_end__isnull=True)
                | models.Q(collection_end__gte=models.F("collection_start")),
                name="source_collection_period_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.licence}, {self.get_copyright_status_display()})"

    def audit_view(self) -> dict:
        return {
            "dataset": str(self.dataset),
            "name": self.name,
            "origin": self.origin,
            "licence": self.licence,
            "copyright_status": self.copyright_status,
            "collection_start": self.collection_start,
            "collection_end": self.collection_end,
        }


class FeatureFile(models.Model):
    """A Parquet file of tabular features, one row per item, keyed by `item_id`."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="feature_files")
    path = models.CharField(max_length=300, help_text="relative to ARTIFACT_ROOT")
    sha256 = models.CharField(max_length=64)
    row_count = models.PositiveIntegerField()
    columns = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.path


class ItemKind(models.TextChoices):
    TABULAR = "tabular", "Tabular row"
    IMAGE = "image", "Image file"


class DataItem(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="items")
    item_ref = models.CharField(max_length=128, help_text="the item's id in its dataset")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="items")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="items")
    kind = models.CharField(max_length=16, choices=ItemKind.choices)
    content_hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the content")
    attributes = models.JSONField(help_text="protected attributes, validated against the dataset's schema")
    # Indexed: erasure checks whether another item shares a content-addressed file.
    image = models.FileField(upload_to="items/", blank=True, db_index=True)
    feature_file = models.ForeignKey(FeatureFile, null=True, blank=True, on_delete=models.PROTECT, related_name="items")
    import_batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    erased_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dataset", "item_ref"], name="item_ref_unique_in_dataset")]
        indexes = [models.Index(fields=["subject"], name="item_subject_idx")]

    def __str__(self):
        return f"{self.dataset} / {self.item_ref}"
