"""The report's charts: matplotlib figures written as SVG strings, ready to inline in the HTML.

Two charts:

- `group_chart`: one attribute's group mean scores, each with its confidence interval as an error bar. The
  shaded **threshold band** starts at the lowest mean score among the groups large enough to judge and is
  as wide as the threshold: when every judged group's mean lies inside it, the point estimate of the mean
  score gap (highest group mean minus lowest) is under the threshold. It is drawn from the lowest mean,
  not around a reference group, because the headline gap is highest minus lowest whatever the reference.
  Groups under the policy's minimum size are drawn hollow and grey (shown, not judged); the reference
  group, when there is one, is marked "(ref.)".
- `trend_chart`: the mean score gap of each attribute of one model over the last four quarters, one panel
  per attribute on a shared scale, each quarter's gap with its interval, coloured by its verdict, and the
  threshold as a dashed line. Quarters without a run are marked "no run".

The figures use matplotlib's object API on an Agg canvas (no pyplot, no global figure state, no display)
and are saved as SVG with text kept as text (DejaVu Sans, which the PDF embeds). The output is
deterministic: a fixed `svg.hashsalt`, no date or creator in the metadata, and element ids prefixed with
the caller's `chart_id` so that several charts can live in one HTML page without clashing ids.
"""

import io
import math
import re
from collections.abc import Mapping, Sequence

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

WIDTH_IN = 6.8  # the text block of an A4 page with 18 mm side margins, so the chart is drawn at its true size
INK = "#1b2733"
MUTED = "#5f6b77"
RULE = "#c9d0d7"
NAVY = "#1f3a5f"
HOLLOW = "#8c959f"
BAND = "#dfe8f1"
BAND_EDGE = "#8fa9c4"
THRESHOLD = "#a8322d"
VERDICT_COLOURS = {"pass": "#2e7d32", "fail": "#b3261e", "inconclusive": "#b26a00", "insufficient": "#757575"}

STYLE = {
    "svg.hashsalt": "bias-audit-report",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 7.5,
    "text.color": INK,
    "axes.edgecolor": RULE,
    "axes.labelcolor": INK,
    "axes.linewidth": 0.6,
    "axes.titlesize": 8,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "xtick.color": MUTED,
    "ytick.color": INK,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7.5,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "path.simplify": True,
}

_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_BETWEEN_TAGS = re.compile(r">\s+<")
_LINE_BREAKS = re.compile(r"\s*\n\s*")
_ID = re.compile(r'\bid="([^"]+)"')
_REFERENCE = re.compile(r'(url\(#|href="#)([^)"]+)')


def group_chart(attribute: Mapping, *, confidence: float, chart_id: str = "groups") -> str:
    """The group means of one attribute (a context `runs[i].attributes[j]`) with intervals and threshold band."""
    groups = list(attribute["groups"])
    reference = attribute["reference"]
    threshold = attribute["gap"]["threshold"]
    with matplotlib.rc_context(STYLE):
        height = 0.85 + 0.24 * max(len(groups), 1)
        figure = _figure(height)
        axes = figure.add_subplot()
        positions = list(range(len(groups)))
        judged = [g["mean_score"] for g in groups if g["sufficient"] and g["mean_score"] is not None]
        if threshold is not None and judged:
            low = min(judged)
            axes.axvspan(low, low + threshold, color=BAND, zorder=0, linewidth=0)
            for edge in (low, low + threshold):
                axes.axvline(edge, color=BAND_EDGE, linewidth=0.6, zorder=1)
        for sufficient in (True, False):
            rows = [
                (y, g)
                for y, g in zip(positions, groups, strict=True)
                if bool(g["sufficient"]) is sufficient and g["mean_score"] is not None
            ]
            if not rows:
                continue
            ys = [y for y, _ in rows]
            means = [g["mean_score"] for _, g in rows]
            errors = [_error(g["mean_score"], g["mean_score_ci"]) for _, g in rows]
            colour = NAVY if sufficient else HOLLOW
            _, _, (bars,) = axes.errorbar(
                means,
                ys,
                xerr=[[e[0] for e in errors], [e[1] for e in errors]],
                fmt="o",
                markersize=4.5,
                color=colour,
                ecolor=colour,
                elinewidth=1.0,
                capsize=2.5,
                capthick=1.0,
                markerfacecolor=colour if sufficient else "white",
                markeredgewidth=1.0,
                zorder=3,
            )
            bars.set_gid("intervals" if sufficient else "intervals-too-small")
        for y, group in zip(positions, groups, strict=True):
            if group["mean_score"] is None:
                axes.text(
                    0.5,
                    y,
                    "no items",
                    transform=axes.get_yaxis_transform(),
                    ha="center",
                    va="center",
                    color=MUTED,
                    fontsize=7,
                    parse_math=False,
                )
        axes.set_yticks(positions, labels=[_group_label(g, reference) for g in groups])
        for label, group in zip(axes.get_yticklabels(), groups, strict=True):
            label.set_parse_math(False)
            if not group["sufficient"]:
                label.set_color(HOLLOW)
        axes.set_ylim(len(groups) - 0.4, -0.6)
        axes.set_xlim(*_score_range(groups, judged, threshold))
        axes.set_xlabel(f"mean score (0\u20131) with its {_percent(confidence)} interval")
        axes.grid(axis="x", color=RULE, linewidth=0.4, alpha=0.7)
        axes.set_axisbelow(True)
        axes.tick_params(axis="y", length=0)
        for side in ("top", "right", "left"):
            axes.spines[side].set_visible(False)
        handles = [
            Line2D([], [], marker="o", color=NAVY, markersize=4.5, linewidth=1.0, label="judged group"),
            Line2D(
                [],
                [],
                marker="o",
                color=HOLLOW,
                markerfacecolor="white",
                markersize=4.5,
                linewidth=1.0,
                label="too few items to judge",
            ),
        ]
        if threshold is not None and judged:
            band = f"threshold band: lowest judged mean + {threshold:g} (provider-chosen)"
            handles.append(Patch(facecolor=BAND, edgecolor=BAND_EDGE, linewidth=0.6, label=band))
        figure.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(0.0, 1.0),
            ncols=len(handles),
            handlelength=1.6,
            columnspacing=1.4,
            borderaxespad=0.2,
        )
        _layout(figure, axes, [_group_label(g, reference) for g in groups], height)
        return _svg(figure, chart_id)


def trend_chart(
    trends: Sequence[Mapping], *, chart_id: str = "trend", y_max: float | None = None, legend: bool = True
) -> str:
    """The gap of each attribute over the quarters (context `trend` entries of one model), one panel each.

    `y_max` fixes the top of the gap axis (`trend_top` of all the model's entries, so that several charts of one
    model share a scale); `legend=False` leaves the legend out (for the charts after a model's first).
    """
    trends = list(trends)
    columns = 1 if len(trends) == 1 else 2
    rows = max(1, math.ceil(len(trends) / columns))
    with matplotlib.rc_context(STYLE):
        height = (0.45 if legend else 0.15) + 1.75 * rows
        figure = _figure(height)
        grid = figure.subplots(rows, columns, sharey=True, squeeze=False)
        top = trend_top(trends) if y_max is None else y_max
        for index, axes in enumerate(grid.flat):
            if index >= len(trends):
                axes.set_visible(False)
                continue
            _trend_panel(axes, trends[index], top)
        if legend:
            _trend_legend(figure, trends)
        top_margin = 0.62 if legend else 0.3
        figure.subplots_adjust(
            left=0.08, right=0.99, bottom=0.42 / height, top=1 - top_margin / height, hspace=0.75, wspace=0.08
        )
        return _svg(figure, chart_id)


def trend_top(trends: Sequence[Mapping]) -> float:
    """The top of the gap axis that shows every point, interval and threshold of `trends`."""
    top = 0.0
    for entry in trends:
        for point in entry["points"]:
            top = max(top, point["value"] or 0.0, (point["ci"] or [None, None])[1] or 0.0)
        top = max(top, entry["threshold"] or 0.0)
    return top * 1.18 or 0.1


def _trend_legend(figure: Figure, trends: list) -> None:
    thresholds = sorted({e["threshold"] for e in trends if e["threshold"] is not None})
    handles = [
        Line2D([], [], marker="o", linestyle="", color=colour, markersize=4.5, label=verdict)
        for verdict, colour in VERDICT_COLOURS.items()
    ]
    if thresholds:
        label = "threshold " + ", ".join(f"{t:g}" for t in thresholds) + " (provider-chosen)"
        handles.append(Line2D([], [], color=THRESHOLD, linestyle=(0, (4, 2)), linewidth=1.0, label=label))
    figure.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.0, 1.0),
        ncols=len(handles),
        handlelength=1.6,
        columnspacing=1.2,
        borderaxespad=0.2,
    )


def _trend_panel(axes, entry: Mapping, top: float) -> None:
    points = list(entry["points"])
    quarters = [p["quarter"] for p in points]
    xs = list(range(len(points)))
    threshold = entry["threshold"]
    present = [(x, p) for x, p in zip(xs, points, strict=True) if p["value"] is not None]
    if len(present) > 1:
        axes.plot([x for x, _ in present], [p["value"] for _, p in present], color=RULE, linewidth=1.0, zorder=1)
    for x, point in present:
        colour = VERDICT_COLOURS.get(point["verdict"], NAVY)
        low, high = _error(point["value"], point["ci"])
        axes.errorbar(
            [x],
            [point["value"]],
            yerr=[[low], [high]],
            fmt="o",
            markersize=4.5,
            color=colour,
            elinewidth=1.0,
            capsize=2.5,
            capthick=1.0,
            zorder=3,
        )
    for x, point in zip(xs, points, strict=True):
        if point["value"] is None:
            axes.text(x, top * 0.06, "no run", ha="center", va="bottom", color=MUTED, fontsize=6.5)
    if threshold is not None:
        axes.axhline(threshold, color=THRESHOLD, linestyle=(0, (4, 2)), linewidth=1.0, zorder=2)
    axes.set_xticks(xs, labels=quarters)
    axes.set_xlim(-0.5, len(points) - 0.5)
    axes.set_ylim(0, top)
    title = axes.set_title(str(entry["attribute"]), pad=4)
    title.set_parse_math(False)
    for label in axes.get_xticklabels():
        label.set_parse_math(False)
    axes.grid(axis="y", color=RULE, linewidth=0.4, alpha=0.7)
    axes.set_axisbelow(True)
    axes.tick_params(axis="x", length=0)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if axes.get_subplotspec().is_first_col():
        axes.set_ylabel("mean score gap")


def _figure(height: float) -> Figure:
    figure = Figure(figsize=(WIDTH_IN, height))
    FigureCanvasAgg(figure)
    return figure


def _layout(figure: Figure, axes, labels: list[str], height: float) -> None:
    """Margins from the longest group label, measured once (cheaper than a constrained layout)."""
    renderer = figure.canvas.get_renderer()
    widest = max((_text_width(renderer, label, figure) for label in labels), default=0.0)
    left = min(0.45, (widest + 0.12) / WIDTH_IN)
    figure.subplots_adjust(left=left, right=0.98, bottom=0.42 / height, top=1 - 0.32 / height)


def _text_width(renderer, text: str, figure: Figure) -> float:
    width, _, _ = renderer.get_text_width_height_descent(text, _tick_font(), ismath=False)
    return width / figure.dpi


def _tick_font():
    from matplotlib.font_manager import FontProperties

    return FontProperties(family=STYLE["font.family"], size=STYLE["ytick.labelsize"])


def _group_label(group: Mapping, reference) -> str:
    name = str(group["name"])
    return f"{name} (ref.)" if reference is not None and name == str(reference) else name


def _error(value: float, ci) -> tuple[float, float]:
    low, high = (ci or [None, None])[0], (ci or [None, None])[1]
    return (0.0 if low is None else max(0.0, value - low), 0.0 if high is None else max(0.0, high - value))


def _score_range(groups: list, judged: list[float], threshold) -> tuple[float, float]:
    values = []
    for group in groups:
        if group["mean_score"] is None:
            continue
        values.append(group["mean_score"])
        values += [bound for bound in (group["mean_score_ci"] or []) if bound is not None]
    if threshold is not None and judged:
        values += [min(judged), min(judged) + threshold]
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    pad = max(0.02, (high - low) * 0.08)
    return max(0.0, low - pad), min(1.0, high + pad)


def _percent(confidence: float) -> str:
    return f"{float(confidence) * 100:g}%"


def _svg(figure: Figure, chart_id: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = _METADATA.sub("", _PROLOG.sub("", buffer.getvalue(), count=1), count=1)
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id)
    svg = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    svg = _REFERENCE.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)
    return _LINE_BREAKS.sub(" ", _BETWEEN_TAGS.sub("><", svg.strip()))
