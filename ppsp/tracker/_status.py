# -*- test-case-name: ppsp.test.test_status -*-
"""
The tracker's status page: what C{GET /} on the admin endpoint shows a
browser (HTML) or a program (JSON).

L{StatusPage} gathers the view (version, uptime, endpoints, settings,
totals, the busiest swarms, requests, refusals, recent warnings) and
renders it as one self-contained HTML document: the plots are SVG drawn
here, the style is inline, and nothing (no script, font or image) is
fetched from elsewhere, which the C{Content-Security-Policy} of
L{STATUS_CSP} enforces in the browser.

L{RecentWarnings} is a log observer that keeps the last few events at
the warning level and above; L{RecentWarningsService} registers it on the
global log publisher while the tracker runs.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from typing import Any, Deque, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.logger import (
    ILogObserver,
    LogLevel,
    LogPublisher,
    formatEvent,
    globalLogPublisher,
)
from zope.interface import implementer

from ppsp import __version__
from ppsp.messages import PeerMode
from ppsp.tracker.core import Tracker
from ppsp.tracker.metrics import Sample, TrackerMetrics
from ppsp.tracker.values import SwarmState

__all__ = [
    "StatusPage",
    "RecentWarnings",
    "RecentWarningsService",
    "WarningRecord",
    "prefersHTML",
    "STATUS_CSP",
    "BUSIEST_SWARMS",
    "RECENT_WARNINGS",
]

#: The swarms the status page lists, largest first.
BUSIEST_SWARMS = 20

#: The warnings L{RecentWarnings} keeps by default.
RECENT_WARNINGS = 20

#: The longest warning text kept, in characters.
_MAX_WARNING_TEXT = 1000

#: The C{Content-Security-Policy} of the HTML page: no script, nothing
#: loaded from anywhere but inline styles and C{data:} images, no framing.
STATUS_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

#: Seconds between two reloads of the page in a browser.
REFRESH_SECONDS = 10

_MODES = (PeerMode.SEED, PeerMode.LIVESEED, PeerMode.LEECH)

#: The levels L{RecentWarnings} keeps.
_WARNING_LEVELS = frozenset({LogLevel.warn, LogLevel.error, LogLevel.critical})


# Warnings --------------------------------------------------------------------


@dataclass(frozen=True)
class WarningRecord:
    """
    One logged event at the warning level or above.

    @ivar time: when it was logged (POSIX seconds, the event's C{log_time}).
    @ivar level: the level's name (C{warn}, C{error}, C{critical}).
    @ivar namespace: the logger's namespace.
    @ivar text: the formatted event, with the failure's message if any.
    """

    time: float
    level: str
    namespace: str
    text: str


@implementer(ILogObserver)
class RecentWarnings:
    """
    A log observer keeping the last C{size} events at L{LogLevel.warn} and
    above.  It never raises (a log observer that raises is removed by its
    publisher).

    @param size: how many it keeps.
    """

    def __init__(self, size: int = RECENT_WARNINGS) -> None:
        self._records: Deque[WarningRecord] = deque(maxlen=size)

    def __call__(self, event: Dict[str, Any]) -> None:
        level: Any = event.get("log_level")
        if level not in _WARNING_LEVELS:
            return
        try:
            text = formatEvent(event)
            failure = event.get("log_failure")
            if failure is not None:
                text = f"{text}: {failure.type.__name__}: {failure.getErrorMessage()}"
            if len(text) > _MAX_WARNING_TEXT:
                text = text[:_MAX_WARNING_TEXT] + "…"
            when = event.get("log_time")
            self._records.append(
                WarningRecord(
                    float(when) if isinstance(when, (int, float)) else 0.0,
                    level.name,
                    str(event.get("log_namespace", "")),
                    text,
                )
            )
        except Exception:
            pass

    def records(self) -> List[WarningRecord]:
        """
        The kept warnings, newest first.
        """
        return list(reversed(self._records))


class RecentWarningsService(Service):
    """
    Registers a L{RecentWarnings} on a log publisher while it runs.

    @param warnings: the observer.
    @param publisher: where to observe; the global log publisher by
        default.
    """

    def __init__(self, warnings: RecentWarnings, publisher: Optional[LogPublisher] = None) -> None:
        self.warnings = warnings
        self.publisher: Any = publisher if publisher is not None else globalLogPublisher

    def startService(self) -> None:
        super().startService()
        self.publisher.addObserver(self.warnings)

    def stopService(self) -> Any:
        self.publisher.removeObserver(self.warnings)
        return super().stopService()


# Content negotiation ---------------------------------------------------------------


def _acceptQuality(accept: str, kind: str, subtype: str) -> float:
    """
    The quality C{accept} (an HTTP C{Accept} value) gives the media type
    C{kind}/C{subtype}: that of the most specific range matching it, 0
    when none does.
    """
    best = (-1, 0.0)
    for item in accept.split(","):
        parts = item.split(";")
        mediaRange = parts[0].strip().lower()
        rangeType, _, rangeSubtype = mediaRange.partition("/")
        if mediaRange == "*/*":
            specificity = 0
        elif rangeType == kind and rangeSubtype == "*":
            specificity = 1
        elif rangeType == kind and rangeSubtype == subtype:
            specificity = 2
        else:
            continue
        quality = 1.0
        for parameter in parts[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    quality = 0.0
                if math.isnan(quality):
                    quality = 0.0
        if specificity > best[0]:
            best = (specificity, quality)
    return best[1]


def prefersHTML(accept: Optional[bytes]) -> bool:
    """
    Whether an C{Accept} header asks for HTML rather than JSON: it gives
    C{text/html} a higher quality than C{application/json}.  A browser's
    C{Accept} does; none, C{*/*} (curl) and C{application/json} do not.
    """
    if not accept:
        return False
    text = accept.decode("latin-1")
    html = _acceptQuality(text, "text", "html")
    return html > 0 and html > _acceptQuality(text, "application", "json")


# The view -------------------------------------------------------------------


def _size(swarm: SwarmState) -> int:
    return swarm.size


def _jsonValue(value: object) -> object:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


class StatusPage:
    """
    The status of one tracker, as a JSON-able view and as an HTML page.

    @param tracker: the tracker to show.
    @param metrics: its metrics (uptime, plots, requests and refusals);
        by default the tracker's own (C{tracker.metrics}).
    @param settings: the settings the tracker logged at start (option
        name to value).
    @param endpoints: the listening endpoints, by role (C{"peers"},
        C{"admin"}) to the endpoint description.
    @param warnings: where the recent warnings are kept, if anywhere.
    @param version: the version shown.
    """

    def __init__(
        self,
        tracker: Tracker,
        metrics: Optional[TrackerMetrics] = None,
        settings: Optional[Mapping[str, object]] = None,
        endpoints: Optional[Mapping[str, str]] = None,
        warnings: Optional[RecentWarnings] = None,
        version: str = __version__,
    ) -> None:
        self.tracker = tracker
        self.metrics: TrackerMetrics = metrics if metrics is not None else tracker.metrics
        self.settings: Dict[str, object] = {k: _jsonValue(v) for k, v in (settings or {}).items()}
        self.endpoints: Dict[str, str] = dict(endpoints or {})
        self.warnings = warnings
        self.version = version

    def view(self) -> "Deferred[Dict[str, Any]]":
        """
        The status as JSON-able values: C{version}, C{uptime} (seconds),
        C{endpoints}, C{settings}, C{totals} (peers, swarms, memberships
        by mode), C{busiestSwarms} (the L{BUSIEST_SWARMS} largest, with
        their size and members by mode), C{requests} (answered in all and
        by response code, and per second over the last history sample),
        C{refusals} (by reason), and with a L{RecentWarnings} C{warnings}
        (newest first).  It reads the numbers of peers and swarms from the
        store (L{Tracker.refreshPopulation
        <ppsp.tracker.core.Tracker.refreshPopulation>}) and walks every
        swarm once (L{IPeerStore.swarms<ppsp.interfaces.IPeerStore.swarms>}).

        @return: a L{Deferred} firing with the view.
        """
        return Deferred.fromCoroutine(self._view())

    async def _view(self) -> Dict[str, Any]:
        tracker = self.tracker
        peers, swarmCount = await tracker.refreshPopulation()
        swarms = await tracker.store.swarms()
        memberships = {mode.value: 0 for mode in _MODES}
        for swarm in swarms:
            for mode, count in swarm.modes.items():
                memberships[mode.value] += count
        busiest = heapq.nlargest(BUSIEST_SWARMS, swarms, key=_size)
        view: Dict[str, Any] = {
            "version": self.version,
            "uptime": round(self.metrics.uptime(), 3),
            "endpoints": dict(self.endpoints),
            "settings": dict(self.settings),
            "totals": {
                "peers": peers,
                "swarms": swarmCount,
                "memberships": memberships,
            },
            "busiestSwarms": [
                dict(
                    {"swarmID": swarm.swarmID, "size": swarm.size},
                    **{mode.value: swarm.modes.get(mode, 0) for mode in _MODES},
                )
                for swarm in busiest
            ],
        }
        metrics = self.metrics
        samples = metrics.samples()
        view["requests"] = {
            "answered": metrics.answeredTotal(),
            "byCode": dict(sorted(metrics.byCode().items())),
            "perSecond": round(samples[-1].rate, 3) if samples else None,
        }
        view["refusals"] = dict(sorted(metrics.refusals.items()))
        if self.warnings is not None:
            view["warnings"] = [
                {
                    "time": record.time,
                    "level": record.level,
                    "namespace": record.namespace,
                    "text": record.text,
                }
                for record in self.warnings.records()
            ]
        return view

    def render(self) -> "Deferred[bytes]":
        """
        The status as one HTML document (UTF-8), for L{STATUS_CSP}.

        @return: a L{Deferred} firing with the document, once the store
            has answered (L{view}).
        """

        def page(view: Dict[str, Any]) -> bytes:
            metrics = self.metrics
            span = metrics.interval * (metrics.history.maxlen or 360)
            now = metrics.clock.seconds()
            return _page(view, metrics.samples(), now, span).encode("utf-8")

        return self.view().addCallback(page)


# Rendering --------------------------------------------------------------------


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _count(n: object) -> str:
    return f"{n:,}" if isinstance(n, int) and not isinstance(n, bool) else _e(n)


def _duration(seconds: float) -> str:
    """
    A duration for people: C{42 s}, C{5 min 3 s}, C{2 h 13 min}, C{3 d 4 h}.
    """
    s = max(0, int(seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {s} s"
    return f"{s} s"


def _clockTime(posix: float) -> str:
    return datetime.fromtimestamp(posix, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(value: float) -> str:
    if value >= 1:
        return f"{value:g} s"
    return f"{value * 1000:g} ms"


def _rate(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _niceStep(span: float) -> float:
    """
    A round step (1, 2 or 5 times a power of ten) near C{span}.
    """
    if span <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(span))
    for factor in (1, 2, 5, 10):
        if span <= factor * power:
            return float(factor * power)
    return 10.0 * power


#: The plots' geometry (SVG user units): size and margins.
_W, _H = 640, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 14, 40


@dataclass
class _Series:
    label: str
    css: str
    points: List[Optional[Tuple[float, float]]]
    area: bool = False


def _plot(
    title: str,
    yLabel: str,
    series: Sequence[_Series],
    now: float,
    span: float,
    logScale: bool,
    formatY: Any,
) -> str:
    """
    One SVG plot of C{series} over the last C{span} seconds: (time,
    value) points, L{None} for a gap.
    """
    width = _W - _LEFT - _RIGHT
    height = _H - _TOP - _BOTTOM
    start = now - span
    values = [p[1] for s in series for p in s.points if p is not None and p[0] >= start]
    if logScale:
        positive = [v for v in values if v > 0]
        lo = 10.0 ** math.floor(math.log10(min(positive))) if positive else 1e-4
        hi = 10.0 ** math.ceil(math.log10(max(positive))) if positive else 1.0
        if hi <= lo:
            hi = lo * 10
        ticks = []
        tick = lo
        while tick <= hi * 1.0001:
            ticks.append(tick)
            tick *= 10

        def y(v: float) -> float:
            v = max(v, lo)
            return _TOP + height - (math.log10(v / lo) / math.log10(hi / lo)) * height

    else:
        top = max(values) if values else 0.0
        step = _niceStep(top / 4) if top > 0 else 1.0
        hi = max(step, math.ceil(top / step - 1e-9) * step)
        ticks = [i * step for i in range(int(round(hi / step)) + 1)]

        def y(v: float) -> float:
            return _TOP + height - (v / hi) * height

    def x(t: float) -> float:
        return _LEFT + (t - start) / span * width

    out = [
        f'<svg class="plot" viewBox="0 0 {_W} {_H}" role="img" aria-label="{_e(title)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_e(title)}</title>",
    ]
    for tick in ticks:
        ty = y(tick)
        out.append(f'<line class="grid" x1="{_LEFT}" x2="{_LEFT + width}" y1="{ty:.1f}" y2="{ty:.1f}"/>')
        out.append(f'<text class="tick" x="{_LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">{_e(formatY(tick))}</text>')
    minutes = span / 60
    stepMinutes = 10 if minutes > 30 else 5 if minutes > 10 else 1
    m = 0
    while m <= minutes + 1e-9:
        tx = x(now - m * 60)
        out.append(f'<line class="tickmark" x1="{tx:.1f}" x2="{tx:.1f}" y1="{_TOP + height}" y2="{_TOP + height + 4}"/>')
        label = "now" if m == 0 else f"−{m:g}"
        out.append(f'<text class="tick" x="{tx:.1f}" y="{_TOP + height + 16}" text-anchor="middle">{label}</text>')
        m += stepMinutes
    out.append(
        f'<line class="axis" x1="{_LEFT}" x2="{_LEFT + width}" y1="{_TOP + height}" y2="{_TOP + height}"/>'
        f'<line class="axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_TOP + height}"/>'
        f'<text class="label" x="{_LEFT + width / 2:.1f}" y="{_H - 4}" text-anchor="middle">minutes ago</text>'
        f'<text class="label" transform="translate(14 {_TOP + height / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{_e(yLabel)}</text>'
    )
    if not values:
        out.append(
            f'<text class="empty" x="{_LEFT + width / 2:.1f}" y="{_TOP + height / 2:.1f}" '
            'text-anchor="middle">no samples yet</text>'
        )
    for s in series:
        segments: List[List[Tuple[float, float]]] = [[]]
        for p in s.points:
            if p is None or p[0] < start:
                if segments[-1]:
                    segments.append([])
                continue
            segments[-1].append((x(p[0]), y(p[1])))
        for segment in segments:
            if not segment:
                continue
            line = " ".join(f"{px:.1f},{py:.1f}" for px, py in segment)
            if s.area and len(segment) > 1:
                base = _TOP + height
                out.append(
                    f'<polygon class="area {s.css}" points="{segment[0][0]:.1f},{base} {line} '
                    f'{segment[-1][0]:.1f},{base}"/>'
                )
            if len(segment) == 1:
                out.append(f'<circle class="dot {s.css}" cx="{segment[0][0]:.1f}" cy="{segment[0][1]:.1f}" r="2.5"/>')
            else:
                out.append(f'<polyline class="line {s.css}" points="{line}"/>')
    out.append("</svg>")
    legend = "".join(f'<span class="key {s.css}">{_e(s.label)}</span>' for s in series)
    return f'<div class="legend">{legend}</div>' + "".join(out)


def _requestsPlot(samples: Sequence[Sample], now: float, span: float) -> str:
    answered = [(s.start + s.seconds, s.rate) for s in samples]
    refused = [(s.start + s.seconds, s.refused / s.seconds if s.seconds > 0 else 0.0) for s in samples]
    return _plot(
        "Requests per second over the last hour",
        "requests/s",
        [
            _Series("answered", "s1", list(answered), area=True),
            _Series("refused", "s3", list(refused)),
        ],
        now,
        span,
        False,
        _rate,
    )


def _latencyPlot(samples: Sequence[Sample], now: float, span: float) -> str:
    def points(q: float) -> List[Optional[Tuple[float, float]]]:
        result: List[Optional[Tuple[float, float]]] = []
        for s in samples:
            value = s.quantile(q)
            result.append(None if value is None else (s.start + s.seconds, value))
        return result

    return _plot(
        "Request latency over the last hour",
        "latency",
        [_Series("p50", "s1", points(0.5)), _Series("p99", "s2", points(0.99))],
        now,
        span,
        True,
        _seconds,
    )


_STYLE = """
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1b1f24;--muted:#5f6b7a;--line:#e3e6ea;
--accent:#2563eb;--accent2:#d97706;--bad:#dc2626;--head:#0f172a;--headfg:#f8fafc}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--fg:#e6edf3;--muted:#8b949e;
--line:#30363d;--accent:#58a6ff;--accent2:#f0b541;--bad:#f87171;--head:#010409}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",
Roboto,"Helvetica Neue",Arial,sans-serif;-webkit-font-smoothing:antialiased}
header{background:var(--head);color:var(--headfg);padding:18px 28px;display:flex;flex-wrap:wrap;
align-items:baseline;gap:6px 20px}
header h1{margin:0;font-size:20px;font-weight:650;letter-spacing:.01em}
header .meta{color:#cbd5e1;font-size:14px}
header .meta b{color:var(--headfg);font-weight:600}
main{max-width:1240px;margin:0 auto;padding:22px 28px 40px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(128px,1fr));gap:14px;margin-bottom:18px}
.card,section{background:var(--card);border:1px solid var(--line);border-radius:10px}
.card{padding:12px 14px}
.card .name{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.06em}
.card .num{display:block;font-size:25px;font-weight:650;font-variant-numeric:tabular-nums;margin-top:2px}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:18px;margin-bottom:18px}
section{padding:16px 18px;margin-bottom:18px;min-width:0}
.grid2 section{margin-bottom:0}
h2{font-size:15px;margin:0 0 10px;font-weight:650}
h2 small{color:var(--muted);font-weight:400;margin-left:6px}
.plot{width:100%;height:auto;display:block}
.plot .grid{stroke:var(--line);stroke-width:1}
.plot .axis,.plot .tickmark{stroke:var(--muted);stroke-width:1}
.plot text{fill:var(--muted);font-size:12px;font-family:inherit}
.plot .label{font-size:12px;fill:var(--fg)}
.plot .empty{font-size:15px}
.plot .line{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
.plot .area{stroke:none;opacity:.14}
.s1{stroke:var(--accent);fill:var(--accent);color:var(--accent)}
.s2{stroke:var(--accent2);fill:var(--accent2);color:var(--accent2)}
.s3{stroke:var(--bad);fill:var(--bad);color:var(--bad)}
.plot .line.s1,.plot .line.s2,.plot .line.s3{fill:none}
.legend{display:flex;gap:16px;font-size:13px;color:var(--muted);margin:-4px 0 6px}
.key::before{content:"";display:inline-block;width:14px;height:3px;border-radius:2px;background:currentColor;
vertical-align:middle;margin-right:6px}
.key{color:inherit}.key.s1::before{background:var(--accent)}.key.s2::before{background:var(--accent2)}
.key.s3::before{background:var(--bad)}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em;font-weight:600}
td.n,th.n{text-align:right;white-space:nowrap}
tbody tr:last-child td{border-bottom:none}
.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;word-break:break-all}
.bar{height:6px;border-radius:3px;background:var(--line);overflow:hidden;min-width:60px;margin-top:7px}
.bar span{display:block;height:100%;background:var(--accent)}
.muted{color:var(--muted)}
.level{font-size:11px;font-weight:700;text-transform:uppercase;padding:2px 6px;border-radius:4px;
background:var(--accent2);color:#000}
.level.error,.level.critical{background:var(--bad);color:#fff}
.warn td{font-size:13px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0;font-size:14px}
dt{color:var(--muted)}dd{margin:0;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
font-size:13px;word-break:break-all}
footer{color:var(--muted);font-size:13px;text-align:center;padding:8px 0 0}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.scroll{overflow-x:auto}
@media (max-width:600px){main{padding:14px}header{padding:14px}.grid2{grid-template-columns:1fr}
.card .num{font-size:22px}th,td{padding:6px 5px}.barcell{display:none}section{padding:12px}}
"""


def _card(name: str, ident: str, value: object) -> str:
    return (
        f'<div class="card"><span class="name">{_e(name)}</span>'
        f'<span class="num" id="{ident}">{_count(value)}</span></div>'
    )


def _page(view: Dict[str, Any], samples: Sequence[Sample], now: float, span: float) -> str:
    totals = view["totals"]
    modes = totals["memberships"]
    endpoints = " · ".join(f"{_e(role)} <b>{_e(value)}</b>" for role, value in view["endpoints"].items())
    parts: List[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">',
        '<link rel="icon" href="data:,">',
        f"<title>PPSP tracker {_e(view['version'])}</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<header><h1>PPSP tracker</h1>",
        f'<span class="meta">version <b id="version">{_e(view["version"])}</b></span>',
        f'<span class="meta">up <b id="uptime">{_duration(view["uptime"])}</b></span>',
    ]
    if endpoints:
        parts.append(f'<span class="meta">{endpoints}</span>')
    parts.append("</header><main>")
    requests = view["requests"]
    perSecond = requests["perSecond"]
    cards = [
        _card("Peers", "peers", totals["peers"]),
        _card("Swarms", "swarms", totals["swarms"]),
        _card("Seeds", "seeds", modes["SEED"]),
        _card("Live seeds", "liveseeds", modes["LIVESEED"]),
        _card("Leeches", "leeches", modes["LEECH"]),
        _card("Requests/s", "rate", "–" if perSecond is None else _rate(perSecond)),
        _card("Requests", "answered", requests["answered"]),
        _card("Refused", "refused", sum(view["refusals"].values())),
    ]
    parts.append('<div class="cards">' + "".join(cards) + "</div>")
    parts.append(
        '<div class="grid2"><section><h2>Requests per second <small>last hour</small></h2>'
        + _requestsPlot(samples, now, span)
        + '</section><section><h2>Latency <small>p50 and p99, last hour</small></h2>'
        + _latencyPlot(samples, now, span)
        + "</section></div>"
    )
    parts.append(_swarmTable(view["busiestSwarms"], totals["swarms"]))
    parts.append('<div class="grid2">')
    parts.append(_refusalTable(view["refusals"]))
    parts.append(_settingsList(view["settings"]))
    parts.append("</div>")
    if "warnings" in view:
        parts.append(_warningTable(view["warnings"]))
    parts.append(
        f"<footer>Refreshes every {REFRESH_SECONDS} s. The same as JSON: "
        "<code>curl -H 'Accept: application/json' …/</code></footer></main></body></html>"
    )
    return "\n".join(parts)


def _swarmTable(swarms: List[Dict[str, Any]], total: int) -> str:
    largest = max((s["size"] for s in swarms), default=0) or 1
    rows = []
    for s in swarms:
        share = 100 * s["size"] / largest
        rows.append(
            f'<tr data-swarm="{_e(s["swarmID"])}"><td class="id">{_e(s["swarmID"])}</td>'
            f'<td class="n size">{_count(s["size"])}</td>'
            f'<td class="n seeds">{_count(s["SEED"])}</td>'
            f'<td class="n liveseeds">{_count(s["LIVESEED"])}</td>'
            f'<td class="n leeches">{_count(s["LEECH"])}</td>'
            f'<td class="barcell"><div class="bar"><span style="width:{share:.1f}%"></span></div></td></tr>'
        )
    if not rows:
        rows.append('<tr><td colspan="6" class="muted">No swarm yet.</td></tr>')
    shown = f"top {len(swarms)} of {total:,}" if total > len(swarms) else f"{total:,} in all"
    return (
        f'<section><h2>Busiest swarms <small>{shown}</small></h2><div class="scroll"><table id="busiest">'
        '<thead><tr><th>SwarmID</th><th class="n">Peers</th><th class="n">Seeds</th>'
        '<th class="n">Live seeds</th><th class="n">Leeches</th><th class="barcell" style="width:18%"></th>'
        '</tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></div></section>"
    )


def _refusalTable(refusals: Dict[str, int]) -> str:
    rows = "".join(
        f'<tr data-reason="{_e(reason)}"><td>{_e(reason)}</td><td class="n">{_count(n)}</td></tr>'
        for reason, n in sorted(refusals.items(), key=lambda item: -item[1])
    )
    if not rows:
        rows = '<tr><td colspan="2" class="muted">No request refused.</td></tr>'
    return (
        '<section><h2>Refusals <small>before decoding, since start</small></h2><table id="refusals">'
        '<thead><tr><th>Reason</th><th class="n">Requests</th></tr></thead><tbody>'
        + rows
        + "</tbody></table></section>"
    )


def _settingsList(settings: Dict[str, object]) -> str:
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in settings.items())
    if not items:
        items = '<dt class="muted">none given</dt><dd></dd>'
    return f"<section><h2>Settings</h2><dl>{items}</dl></section>"


def _warningTable(warnings: Iterable[Dict[str, Any]]) -> str:
    rows = "".join(
        f'<tr class="warn"><td class="n muted">{_e(_clockTime(w["time"]))}</td>'
        f'<td><span class="level {_e(w["level"])}">{_e(w["level"])}</span></td>'
        f'<td>{_e(w["text"])}<div class="muted">{_e(w["namespace"])}</div></td></tr>'
        for w in warnings
    )
    if not rows:
        rows = '<tr><td colspan="3" class="muted">No warning since start.</td></tr>'
    return (
        '<section><h2>Recent warnings <small>newest first</small></h2><table id="warnings"><tbody>'
        + rows
        + "</tbody></table></section>"
    )
