"""
Tests for L{ppsp.tracker._status}: the status page at C{GET /} on the admin
endpoint (HTML for a browser, JSON otherwise), its plots, the recent
warnings, and the page as headless Chromium renders it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import shutil
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from typing import Any, Dict, List, Optional, Tuple

from treq.testing import StubTreq
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import Clock
from twisted.internet.utils import getProcessOutputAndValue
from twisted.logger import Logger, LogLevel, LogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

import ppsp
from ppsp import __version__
from ppsp.messages import JoinRequest, PeerMode
from ppsp.test.browser import CHROMIUM_FLAGS as ISOLATED
from ppsp.test.helpers import TrackerHarness
from ppsp.test.test_tap import InterfaceReactor, parse
from ppsp.tracker.admin import AdminResource
from ppsp.tracker.core import Tracker, TrackerConfig
from ppsp.tracker.metrics import TrackerMetrics
from ppsp.tracker.resource import TrackerSite
from ppsp.tracker._status import (
    BUSIEST_SWARMS,
    STATUS_CSP,
    RecentWarnings,
    RecentWarningsService,
    StatusPage,
    prefersHTML,
)
from ppsp.tracker.tap import makeService

reactor: Any = _reactor

#: What Chromium sends in C{Accept} for a page.
BROWSER = (
    b"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
    b"image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)

#: A SwarmID a peer may choose to attack the page with.
EVIL = "<script>alert('x')</script>&\"'"

ADMIN = "http://127.0.0.1:7001/"


def populated(testCase: SynchronousTestCase) -> TrackerHarness:
    """
    A tracker with swarm C{s} (a SEED, a LIVESEED and two LEECHes), swarm
    L{EVIL} (one SEED and one LEECH) and swarm C{t} (one LEECH): five peers.
    """
    h = TrackerHarness(testCase)
    members = [
        ("a", [("s", PeerMode.SEED), (EVIL, PeerMode.SEED)]),
        ("b", [("s", PeerMode.LIVESEED)]),
        ("c", [("s", PeerMode.LEECH), (EVIL, PeerMode.LEECH)]),
        ("d", [("s", PeerMode.LEECH)]),
        ("e", [("t", PeerMode.LEECH)]),
    ]
    for n, (peerID, joins) in enumerate(members):
        h.connect(peerID, ip=f"198.51.100.{n + 1}")
        for swarmID, mode in joins:
            h.ok(JoinRequest, peerID, swarmID=swarmID, mode=mode)
    return h


def get(
    testCase: SynchronousTestCase, resource: AdminResource, accept: Optional[bytes], method: str = "GET"
) -> Tuple[int, Any, bytes]:
    """
    One request for C{/}: the status, the headers and the body.
    """
    stub: Any = StubTreq(resource)
    headers = {b"Accept": [accept]} if accept is not None else {}
    d = stub.request(method, ADMIN, headers=headers)
    stub.flush()
    response = testCase.successResultOf(d)
    body = testCase.successResultOf(stub.content(response))
    return response.code, response.headers, body


def fillHistory(metrics: TrackerMetrics, samples: int, perSample: int = 50) -> None:
    """
    Close C{samples} history intervals of C{metrics}, each with
    C{perSample} answered requests (one in ten slow) and one refusal.
    """
    clock: Any = metrics.clock
    for i in range(samples):
        for k in range(perSample):
            metrics.answered("JOIN", "200", 0.2 if k % 10 == 0 else 0.002)
        metrics.refused("throttled")
        clock.advance(metrics.interval)
        metrics.sample()


class NegotiationTests(SynchronousTestCase):
    """
    C{GET /} answers HTML when the client prefers it to JSON, and JSON
    otherwise.
    """

    def test_prefersHTML(self) -> None:
        """
        A browser's C{Accept}, or one giving C{text/html} (or C{text/*})
        a higher quality than C{application/json}, asks for HTML; no
        C{Accept}, C{*/*}, JSON first or a tie does not.
        """
        for accept in [BROWSER, b"text/html", b"text/*, application/json;q=0.9", b"TEXT/HTML;Q=1"]:
            self.assertTrue(prefersHTML(accept), accept)
        for other in [
            None,
            b"",
            b"*/*",
            b"application/json",
            b"text/html;q=0.5, application/json",
            b"text/html, application/json",
            b"text/html;q=0",
            b"text/html;q=nan",
            b"text/html;q=bogus",
            b"image/png",
        ]:
            self.assertFalse(prefersHTML(other), other)

    def test_html(self) -> None:
        """
        A browser gets the page as HTML that must not be cached, with a
        strict C{Content-Security-Policy}, C{Vary: Accept}, and the totals
        in it.
        """
        h = populated(self)
        code, headers, body = get(self, AdminResource(h.tracker), BROWSER)
        self.assertEqual(code, 200)
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"text/html; charset=utf-8"])
        self.assertEqual(headers.getRawHeaders(b"cache-control"), [b"no-store"])
        self.assertEqual(headers.getRawHeaders(b"content-security-policy"), [STATUS_CSP.encode()])
        self.assertEqual(headers.getRawHeaders(b"vary"), [b"Accept"])
        self.assertEqual(headers.getRawHeaders(b"x-content-type-options"), [b"nosniff"])
        self.assertIn("default-src 'none'", STATUS_CSP)
        page = body.decode("utf-8")
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        numbers = cardNumbers(page)
        self.assertEqual(
            numbers,
            dict(numbers, peers="5", swarms="3", seeds="2", liveseeds="1", leeches="4"),
        )
        self.assertIn(f'id="version">{__version__}<', page)

    def test_noScript(self) -> None:
        """
        The page has no script, loads nothing from anywhere (no C{src} or
        C{href} but the empty C{data:} icon) and says which charset it is.
        """
        h = populated(self)
        fillHistory(h.tracker.metrics, 5)
        page = get(self, AdminResource(h.tracker), BROWSER)[2].decode("utf-8")
        self.assertNotIn("<script", page)
        self.assertEqual(re.findall(r'(?:src|href)="([^"]*)"', page), ["data:,"])
        self.assertIn('<meta charset="utf-8">', page)

    def test_head(self) -> None:
        """
        C{HEAD /} from a browser answers the page's headers with no body.
        """
        h = populated(self)
        resource = AdminResource(h.tracker)
        full = get(self, resource, BROWSER)[2]
        code, headers, body = get(self, resource, BROWSER, "HEAD")
        self.assertEqual((code, body), (200, b""))
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"text/html; charset=utf-8"])
        self.assertEqual(headers.getRawHeaders(b"content-length"), [b"%d" % len(full)])

    def test_json(self) -> None:
        """
        Without an C{Accept} that prefers HTML, C{GET /} answers JSON as
        before (peers, swarms, counters) with the status fields: version,
        uptime, totals with memberships by mode, the busiest swarms
        largest first, requests and refusals.
        """
        h = populated(self)
        h.tracker.metrics.refused("shed")
        h.clock.advance(30)
        for accept in [None, b"*/*", b"application/json"]:
            code, headers, body = get(self, AdminResource(h.tracker), accept)
            self.assertEqual(code, 200)
            self.assertEqual(headers.getRawHeaders(b"content-type"), [b"application/json"])
            self.assertEqual(headers.getRawHeaders(b"vary"), [b"Accept"])
            view = json.loads(body)
            self.assertEqual((view["peers"], view["swarms"]), (5, 3))
            self.assertIn("counters", view)
            self.assertEqual(view["version"], __version__)
            self.assertGreaterEqual(view["uptime"], 30)
            self.assertEqual(
                view["totals"],
                {"peers": 5, "swarms": 3, "memberships": {"SEED": 2, "LIVESEED": 1, "LEECH": 4}},
            )
            self.assertEqual(
                view["busiestSwarms"],
                [
                    {"swarmID": "s", "size": 4, "SEED": 1, "LIVESEED": 1, "LEECH": 2},
                    {"swarmID": EVIL, "size": 2, "SEED": 1, "LIVESEED": 0, "LEECH": 1},
                    {"swarmID": "t", "size": 1, "SEED": 0, "LIVESEED": 0, "LEECH": 1},
                ],
            )
            self.assertEqual(view["refusals"], {"shed": 1})
            self.assertEqual(view["requests"]["perSecond"], None)
            self.assertNotIn("warnings", view)

    def test_busiestOnly(self) -> None:
        """
        The page lists the L{BUSIEST_SWARMS} largest swarms, largest first,
        and says how many there are.
        """
        h = TrackerHarness(self)
        for n in range(BUSIEST_SWARMS + 5):
            h.connect(f"p{n}", ip=f"198.51.100.{n + 1}")
            for k in range(n + 1):
                h.ok(JoinRequest, f"p{n}", swarmID=f"swarm{k}")
        view = self.successResultOf(StatusPage(h.tracker).view())
        self.assertEqual(
            [s["swarmID"] for s in view["busiestSwarms"]], [f"swarm{k}" for k in range(BUSIEST_SWARMS)]
        )
        self.assertEqual(view["busiestSwarms"][0]["size"], BUSIEST_SWARMS + 5)
        page = self.successResultOf(StatusPage(h.tracker).render()).decode()
        self.assertIn(f"top {BUSIEST_SWARMS} of {BUSIEST_SWARMS + 5}", page)
        self.assertEqual(len(swarmRows(page)), BUSIEST_SWARMS)


class EscapingTests(SynchronousTestCase):
    """
    Whatever peers and log lines put on the page is text, never markup.
    """

    def test_swarmID(self) -> None:
        """
        A SwarmID holding C{<script>} and quotes is escaped in the table
        and in its attribute, and the row still has its counts.
        """
        h = populated(self)
        page = get(self, AdminResource(h.tracker), BROWSER)[2].decode("utf-8")
        self.assertNotIn("<script", page)
        self.assertNotIn("alert('x')", page)
        self.assertIn("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&amp;&quot;&#x27;", page)
        self.assertEqual(swarmRows(page)[EVIL], {"size": "2", "seeds": "1", "liveseeds": "0", "leeches": "1"})

    def test_warningsAndSettings(self) -> None:
        """
        The text of a warning (which may quote a peer's input), its
        namespace, and the settings are escaped too.
        """
        h = populated(self)
        warnings = RecentWarnings()
        Logger(namespace="ppsp.<i>", observer=LogPublisher(warnings)).warn("bad {what}", what="<img src=x>")
        status = StatusPage(
            h.tracker, settings={"swarms": "<marquee>file</marquee>"}, endpoints={"peers": "<u>"}, warnings=warnings
        )
        page = self.successResultOf(status.render()).decode("utf-8")
        for markup in ["<img", "<marquee>", "<u>", "<i>"]:
            self.assertNotIn(markup, page)
        for text in ["bad &lt;img src=x&gt;", "ppsp.&lt;i&gt;", "&lt;marquee&gt;file&lt;/marquee&gt;", "&lt;u&gt;"]:
            self.assertIn(text, page)


class PlotTests(SynchronousTestCase):
    """
    The two plots are SVG drawn on the server from the metrics' history.
    """

    def plots(self, metrics: TrackerMetrics, h: TrackerHarness) -> List[ElementTree.Element]:
        page = self.successResultOf(StatusPage(h.tracker, metrics=metrics).render()).decode("utf-8")
        svgs = re.findall(r"<svg .*?</svg>", page, re.S)
        self.assertEqual(len(svgs), 2)
        return [ElementTree.fromstring(svg) for svg in svgs]

    def test_empty(self) -> None:
        """
        With no history yet each plot still has its axes, tick labels and
        axis labels, says there is no sample yet, and draws no line.
        """
        h = TrackerHarness(self)
        for svg in self.plots(TrackerMetrics(h.clock), h):
            texts = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
            self.assertIn("no samples yet", texts)
            self.assertIn("minutes ago", texts)
            self.assertIn("now", texts)
            self.assertIn("−60", texts)
            self.assertEqual(list(svg.iter("{http://www.w3.org/2000/svg}polyline")), [])

    def test_full(self) -> None:
        """
        With an hour of history, the requests plot draws the answered
        rate (5/s) and the refused rate as lines of one point per sample
        inside the plot area, on a scale with round ticks; the latency
        plot draws p50 and p99 (2.5 ms and 250 ms, bucket bounds) on a
        logarithmic scale.
        """
        h = TrackerHarness(self)
        metrics = TrackerMetrics(h.clock)
        fillHistory(metrics, 360)
        requests, latency = self.plots(metrics, h)
        ns = "{http://www.w3.org/2000/svg}"
        lines = list(requests.iter(ns + "polyline"))
        self.assertEqual(len(lines), 2)
        for line in lines:
            points = [tuple(map(float, p.split(","))) for p in line.get("points", "").split()]
            self.assertEqual(len(points), 360)
            self.assertTrue(all(64 <= x <= 624 and 14 <= y <= 200 for x, y in points), points[:3])
        answered = [float(p.split(",")[1]) for p in lines[0].get("points", "").split()]
        self.assertEqual(len(set(answered)), 1)
        ticks = [t.text for t in requests.iter(ns + "text") if t.get("class") == "tick"]
        self.assertEqual(ticks[:4], ["0", "2", "4", "6"])
        self.assertNotIn("no samples yet", [t.text for t in requests.iter(ns + "text")])
        self.assertEqual(len(list(latency.iter(ns + "polyline"))), 2)
        latencyTicks = [t.text for t in latency.iter(ns + "text") if t.get("class") == "tick"]
        self.assertEqual(latencyTicks[:3], ["1 ms", "10 ms", "100 ms"])
        self.assertIn("1 s", latencyTicks)

    def test_gaps(self) -> None:
        """
        A sample without requests has no latency: the latency lines break
        there instead of dropping to zero, and a lone sample is a dot.
        """
        h = TrackerHarness(self)
        metrics = TrackerMetrics(h.clock)
        fillHistory(metrics, 3)
        fillHistory(metrics, 2, perSample=0)
        fillHistory(metrics, 1)
        _requests, latency = self.plots(metrics, h)
        ns = "{http://www.w3.org/2000/svg}"
        self.assertEqual(len(list(latency.iter(ns + "polyline"))), 2)
        self.assertEqual(len(list(latency.iter(ns + "circle"))), 2)


class WarningsTests(SynchronousTestCase):
    """
    L{RecentWarnings} keeps the last events at the warning level and above.
    """

    def test_levels(self) -> None:
        """
        Warnings, errors and critical events are kept, newest first, with
        their time, level, namespace and formatted text; debug and info
        events, and events without a level, are not.
        """
        warnings = RecentWarnings()
        log = Logger(namespace="ppsp.test", observer=LogPublisher(warnings))
        log.debug("debug")
        log.info("info")
        log.warn("warned {n}", n=1)
        log.error("failed {n}", n=2)
        log.critical("critical")
        warnings({"log_format": "no level", "log_time": 1.0})
        records = warnings.records()
        self.assertEqual([(r.level, r.namespace, r.text) for r in records], [
            ("critical", "ppsp.test", "critical"),
            ("error", "ppsp.test", "failed 2"),
            ("warn", "ppsp.test", "warned 1"),
        ])
        self.assertTrue(all(r.time > 0 for r in records))

    def test_failure(self) -> None:
        """
        A logged failure adds its exception's type and message to the text.
        """
        warnings = RecentWarnings()
        log = Logger(namespace="ppsp.test", observer=LogPublisher(warnings))
        log.failure("store write failed", Failure(OSError("disk full")))
        (record,) = warnings.records()
        self.assertEqual((record.level, record.text), ("critical", "store write failed: OSError: disk full"))

    def test_bounded(self) -> None:
        """
        Only the last C{size} warnings are kept, and a long text is cut.
        """
        warnings = RecentWarnings(size=3)
        log = Logger(observer=LogPublisher(warnings))
        for n in range(10):
            log.warn("warning {n}", n=n)
        log.warn("{long}", long="x" * 5000)
        texts = [r.text for r in warnings.records()]
        self.assertEqual(texts[1:], ["warning 9", "warning 8"])
        self.assertEqual(len(texts[0]), 1001)

    def test_neverRaises(self) -> None:
        """
        An event that cannot be formatted is still kept (with the
        formatting error's text), and nothing is raised to the publisher.
        """
        warnings = RecentWarnings()
        warnings({"log_level": LogLevel.warn, "log_format": "{missing", "log_time": "not a time"})
        (record,) = warnings.records()
        self.assertEqual(record.time, 0.0)
        self.assertIn("Unable to format event", record.text)

    def test_service(self) -> None:
        """
        L{RecentWarningsService} observes the publisher only while it
        runs.
        """
        publisher = LogPublisher()
        warnings = RecentWarnings()
        service = RecentWarningsService(warnings, publisher)
        log = Logger(observer=publisher)
        log.warn("before")
        service.startService()
        log.warn("during")
        service.stopService()
        log.warn("after")
        self.assertEqual([r.text for r in warnings.records()], ["during"])

    def test_tap(self) -> None:
        """
        With C{--admin}, the tracker's service keeps the warnings logged
        on the global publisher while it runs, and C{GET /} shows them
        with the settings it logged at start and its endpoints.
        """
        service = makeService(parse("--admin", "tcp:7001:interface=127.0.0.1"), InterfaceReactor())
        service.startService()
        Logger(namespace="ppsp.test").warn("a warning while running")
        service.stopService()
        Logger(namespace="ppsp.test").warn("a warning after the stop")
        (resource,) = [
            s.factory.resource for s in service if isinstance(getattr(s, "factory", None), TrackerSite)
            and isinstance(s.factory.resource, AdminResource)
        ]
        view = json.loads(get(self, resource, None)[2])
        self.assertEqual([w["text"] for w in view["warnings"]], ["a warning while running"])
        self.assertEqual(view["endpoints"], {"peers": "tcp:7000", "admin": "tcp:7001:interface=127.0.0.1"})
        self.assertEqual(view["settings"]["admin"], "tcp:7001:interface=127.0.0.1")
        self.assertIn("selector", view["settings"])


# Reading the page -------------------------------------------------------------------


class _PageReader(HTMLParser):
    """
    The numbers of a status page: the cards by id, and each swarm row's
    counts by SwarmID.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cards: Dict[str, str] = {}
        self.swarms: Dict[str, Dict[str, str]] = {}
        self._card: Optional[str] = None
        self._row: Optional[str] = None
        self._cell: Optional[str] = None

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        a = dict(attrs)
        if tag == "span" and a.get("class") == "num":
            self._card = a.get("id")
        elif tag == "tr" and "data-swarm" in a:
            self._row = a["data-swarm"]
            self.swarms[self._row or ""] = {}
        elif tag == "td" and self._row is not None:
            classes = (a.get("class") or "").split()
            self._cell = classes[-1] if "n" in classes else None

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._card = None
        elif tag == "td":
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._card is not None:
            self.cards[self._card] = self.cards.get(self._card, "") + data
        elif self._row is not None and self._cell is not None:
            row = self.swarms[self._row]
            row[self._cell] = row.get(self._cell, "") + data


def _read(page: str) -> _PageReader:
    reader = _PageReader()
    reader.feed(page)
    reader.close()
    return reader


def cardNumbers(page: str) -> Dict[str, str]:
    """
    The numbers in the page's cards, by id.
    """
    return _read(page).cards


def swarmRows(page: str) -> Dict[str, Dict[str, str]]:
    """
    The busiest-swarms table: each SwarmID's size, seeds, live seeds and
    leeches.
    """
    return _read(page).swarms


# In a browser -------------------------------------------------------------------


#: Headless Chromium, talking to the test's listener only, logging the
#: page's console to stderr.
CHROMIUM_FLAGS = ISOLATED + ["--enable-logging=stderr", "--v=0"]


def browserErrors(stderr: bytes) -> List[str]:
    """
    What the page logged to the browser's console (a script error, a
    resource that failed or that the Content-Security-Policy refused): the
    status page, which has no script, must log nothing at all.
    """
    return [
        line
        for line in stderr.decode("utf-8", "replace").splitlines()
        if ":CONSOLE" in line or "Content Security Policy" in line or "Uncaught" in line
    ]


class _Violating(Resource):
    """
    A page that breaks the status page's Content-Security-Policy.
    """

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-security-policy", STATUS_CSP.encode())
        return b"<!DOCTYPE html><title>bad</title><script>document.title = 'ran'</script>"


class BrowserTests(TestCase):
    """
    The page as headless Chromium (Debian's C{chromium}) renders it from a
    real admin listener.  Chromium must be installed (C{.ci/run} installs
    it); this test never skips.
    """

    timeout = 120

    @inlineCallbacks
    def dumpDOM(self, url: str) -> Any:
        chromium = shutil.which("chromium")
        if chromium is None:
            self.fail("chromium is not installed: apt-get install chromium (.ci/run does)")
        profile = self.mktemp()
        os.makedirs(profile)
        out, err, code = yield getProcessOutputAndValue(
            chromium,
            CHROMIUM_FLAGS + [f"--user-data-dir={profile}", "--dump-dom", url],
            env=dict(os.environ),
            reactor=reactor,
        )
        self.assertEqual(code, 0, err[-2000:])
        return out.decode("utf-8"), err

    def listen(self, resource: Resource) -> str:
        port = reactor.listenTCP(0, Site(resource), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return f"http://127.0.0.1:{port.getHost().port}/"

    @inlineCallbacks
    def test_rendered(self) -> Any:
        """
        The DOM Chromium renders holds the tracker's numbers (peers,
        swarms, memberships by mode, each swarm's seeds, live seeds and
        leeches), with the hostile SwarmID as text, both plots, and the
        browser's console stays empty (no script error, nothing the
        Content-Security-Policy refused).
        """
        h = populated(self)
        fillHistory(h.tracker.metrics, 30)
        warnings = RecentWarnings()
        Logger(observer=LogPublisher(warnings)).warn("a warning with <b>markup</b>")
        status = StatusPage(h.tracker, settings={"selector": "random"}, warnings=warnings)
        dom, err = yield self.dumpDOM(self.listen(AdminResource(h.tracker, status=status)))
        self.assertEqual(browserErrors(err), [])
        reader = _read(dom)
        self.assertEqual(
            {k: reader.cards[k] for k in ["peers", "swarms", "seeds", "liveseeds", "leeches"]},
            {"peers": "5", "swarms": "3", "seeds": "2", "liveseeds": "1", "leeches": "4"},
        )
        self.assertEqual(
            reader.swarms,
            {
                "s": {"size": "4", "seeds": "1", "liveseeds": "1", "leeches": "2"},
                EVIL: {"size": "2", "seeds": "1", "liveseeds": "0", "leeches": "1"},
                "t": {"size": "1", "seeds": "0", "liveseeds": "0", "leeches": "1"},
            },
        )
        self.assertEqual(dom.count("<svg"), 2)
        self.assertNotIn("<script", dom)
        self.assertIn("a warning with &lt;b&gt;markup&lt;/b&gt;", dom)

    @inlineCallbacks
    def test_errorsAreSeen(self) -> Any:
        """
        The check of the console catches what it must: a script on a page
        under the status page's policy is refused, and that is reported
        (so an empty report above means something).
        """
        dom, err = yield self.dumpDOM(self.listen(_Violating()))
        self.assertIn("<title>bad</title>", dom)
        self.assertNotEqual(browserErrors(err), [])


class ScreenshotScriptTests(SynchronousTestCase):
    """
    The script that makes the documentation's screenshot
    (C{docs/_static/make_status_screenshot.py}) keeps working.
    """

    def test_populate(self) -> None:
        """
        Its made-up tracker has an hour of history, peers in swarms
        (among them a hostile SwarmID) and warnings, and its page renders.
        """
        path = os.path.join(
            os.path.dirname(os.path.abspath(ppsp.__file__)), os.pardir, "docs", "_static",
            "make_status_screenshot.py",
        )
        if not os.path.exists(path):
            raise SkipTest("not a source checkout: no docs/_static")
        spec = importlib.util.spec_from_file_location("make_status_screenshot", path)
        assert spec is not None and spec.loader is not None
        script = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(script)
        clock = Clock()
        tracker = Tracker(clock, TrackerConfig(keepAliveInterval=600, peerTimeout=3600))
        self.successResultOf(Deferred.fromCoroutine(script.populate(tracker, clock, random.Random(12))))
        self.assertEqual(len(tracker.metrics.samples()), 360)
        self.assertEqual(self.successResultOf(tracker.store.counts())[0], 420)
        view = self.successResultOf(StatusPage(tracker, warnings=script.warnings()).view())
        self.assertEqual(len(view["busiestSwarms"]), BUSIEST_SWARMS)
        self.assertEqual(len(view["warnings"]), 2)
        self.assertNotIn("<script", self.successResultOf(StatusPage(tracker).render()).decode())
