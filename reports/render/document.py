"""Context dict -> HTML (Jinja2) -> PDF/A-3b (WeasyPrint) with the attachments embedded."""

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from reports.render import charts
from reports.render.errors import MISSING_KEY, MISSING_KEY_AT, NOT_A_MAPPING, RenderError, TrackedDict, track
from reports.render.formatting import FILTERS

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
REPORT_TEMPLATE = "reports/quarterly.html"
PDF_VARIANT = "pdf/a-3b"
# PDF/A-3 associated files: "Data" is the information the document's figures and tables are drawn from.
ATTACHMENT_RELATIONSHIP = "Data"
TREND_PANELS_PER_CHART = 2
MALFORMED = "the report context has a malformed figure: {error}"
BAD_ATTACHMENT = "attachment {name!r} must be bytes, not {kind}"


class ContextUndefined(jinja2.StrictUndefined):
    """StrictUndefined whose message names the missing key and where in the context it was looked for."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint is not None:
            return self._undefined_hint
        name, owner = self._undefined_name, self._undefined_obj
        if owner is jinja2.utils.missing:
            return MISSING_KEY.format(key=name)
        path = getattr(owner, "context_path", None)
        if path is None:
            return super()._undefined_message
        return MISSING_KEY_AT.format(key=name, path=path) if path else MISSING_KEY.format(key=name)


class ReportEnvironment(jinja2.Environment):
    """Attribute and item access on the context reads keys only: `row.items` is the key "items", never `dict.items`."""

    def getattr(self, obj, attribute):
        if isinstance(obj, TrackedDict):
            return self._key(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        if isinstance(obj, TrackedDict):
            return self._key(obj, argument)
        return super().getitem(obj, argument)

    def _key(self, obj: TrackedDict, key):
        try:
            return obj[key]
        except KeyError:
            return self.undefined(obj=obj, name=key)


@cache
def environment() -> jinja2.Environment:
    env = ReportEnvironment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=ContextUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    return env


def render_html(context: Mapping) -> str:
    """The report as one HTML page (styles and SVG charts inline)."""
    return _html(context, attached=())


def render_pdf(context: Mapping, *, attachments: Mapping[str, bytes]) -> bytes:
    """The report as PDF/A-3b bytes, every attachment (file name -> bytes) embedded with AFRelationship /Data."""
    import weasyprint

    for name, data in attachments.items():
        if not isinstance(data, bytes | bytearray):
            raise RenderError(BAD_ATTACHMENT.format(name=name, kind=type(data).__name__))
    attached = [
        {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in attachments.items()
    ]
    html = _html(context, attached=attached)
    moment = _moment(context["report"].get("generated_at"))
    files = [
        weasyprint.Attachment(
            string=bytes(data),
            name=name,
            description=f"{name}, attached to report {context['report']['id']}",
            created=moment,
            modified=moment,
            relationship=ATTACHMENT_RELATIONSHIP,
        )
        for name, data in attachments.items()
    ]
    document = weasyprint.HTML(string=html, base_url=str(TEMPLATES)).render()
    return document.write_pdf(pdf_variant=PDF_VARIANT, attachments=files)


def _html(context: Mapping, *, attached) -> str:
    if not isinstance(context, Mapping):
        raise RenderError(NOT_A_MAPPING.format(kind=type(context).__name__))
    tracked = track(context)
    try:
        figures = _charts(tracked)
        return environment().get_template(REPORT_TEMPLATE).render(**tracked, charts=figures, attached=attached)
    except RenderError:
        raise
    except jinja2.UndefinedError as error:
        raise RenderError(error.message) from error
    except (TypeError, ValueError, AttributeError) as error:
        raise RenderError(MALFORMED.format(error=error)) from error


def _charts(context) -> dict:
    """Every chart of the report, as inline SVG: per run and attribute, and per model for the trend."""
    groups = [
        [
            Markup(charts.group_chart(attribute, confidence=run["policy"]["confidence"], chart_id=f"g{r}-{a}"))  # noqa: S704 - our own SVG, labels escaped by matplotlib
            for a, attribute in enumerate(run["attributes"])
        ]
        for r, run in enumerate(context["runs"])
    ]
    models: dict[str, list] = {}
    for entry in context["trend"]:
        models.setdefault(str(entry["model"]), []).append(entry)
    trend = []
    for m, (model, entries) in enumerate(models.items()):
        chunks = [entries[i : i + TREND_PANELS_PER_CHART] for i in range(0, len(entries), TREND_PANELS_PER_CHART)]
        top = charts.trend_top(entries)
        svgs = [
            Markup(charts.trend_chart(chunk, chart_id=f"t{m}-{c}", y_max=top, legend=c == 0))  # noqa: S704
            for c, chunk in enumerate(chunks)
        ]
        trend.append({"model": model, "entries": entries, "charts": svgs})
    return {"groups": groups, "trend": trend}


def _moment(value) -> datetime:
    """The report's generation time for the attachments' dates (so they do not depend on when it is rendered)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return datetime.now(UTC)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
