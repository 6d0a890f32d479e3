"""
Make docs/_static/status-page.png: the admin endpoint's status page of a
populated tracker, as headless Chromium (Debian's C{chromium}) shows it.

    python docs/_static/make_status_screenshot.py [OUTPUT.png]

The tracker is made up here, on a clock of its own: a few hundred peers
in swarms of Zipf-like sizes, an hour of request history, two warnings.
Its admin interface listens on 127.0.0.1 (a free port) for the one
request Chromium makes; nothing else is contacted.
"""

from __future__ import annotations

import math
import os
import random
import sys
import tempfile
from typing import Any, List

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import Clock, react
from twisted.internet.utils import getProcessOutputAndValue
from twisted.logger import Logger, LogPublisher
from twisted.web.server import Site

from ppsp.test.browser import CHROMIUM_FLAGS as ISOLATED
from ppsp.messages import (
    ConnectRequest,
    ConnectResponse,
    JoinRequest,
    PeerMode,
)
from ppsp.tracker._status import RecentWarnings, StatusPage
from ppsp.tracker.admin import AdminResource
from ppsp.tracker.core import Origin, Tracker, TrackerConfig

#: Where the picture goes by default.
OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "status-page.png")

#: The window Chromium renders the page in.
WINDOW = "1280,1800"

#: Headless Chromium, talking to the page only, without scroll bars.
CHROMIUM_FLAGS = ISOLATED + ["--hide-scrollbars"]


async def populate(tracker: Tracker, clock: Clock, rng: random.Random) -> None:
    """
    An hour of traffic in the tracker's metrics, then peers in swarms.
    """
    metrics = tracker.metrics
    for i in range(360):
        # A morning ramp with some noise, and a burst of refusals.
        rate = 140 + 90 * math.sin(i / 360 * math.pi) + rng.gauss(0, 12)
        for _ in range(int(rate * 10)):
            latency = rng.lognormvariate(math.log(0.0012), 0.7)
            if rng.random() < 0.004:
                latency *= 30
            metrics.answered(rng.choice(["JOIN", "FIND", "KEEP-ALIVE"]), "200", latency)
        if 200 <= i < 215:
            for _ in range(rng.randint(30, 90)):
                metrics.refused("throttled")
        if 290 <= i < 296:
            for _ in range(rng.randint(5, 20)):
                metrics.refused("shed")
        clock.advance(10)
        metrics.sample()
    swarms = [
        "ubuntu-24.04-desktop-amd64",
        "debian-12.8.0-amd64-netinst",
        "live/news-channel-hd",
        "<script>alert('swarm')</script>",
        "fedora-41-workstation-x86_64",
        "archlinux-2026.12.01-x86_64",
        "conference-keynote-1080p",
        "big-buck-bunny-4k",
    ] + [f"swarm-{n:04x}" for n in range(40)]
    for n in range(420):
        peerID = f"peer-{n:04d}"
        origin = Origin(f"198.51.{100 + n // 250}.{n % 250 + 1}", 40000 + n)
        connected = await tracker.handle(ConnectRequest(f"c{n}", peerID), origin)
        assert isinstance(connected, ConnectResponse)
        for j in range(1 + (n % 3 == 0)):
            index = min(int(rng.paretovariate(1.1)) - 1 + j * 3, len(swarms) - 1)
            roll = rng.random()
            mode = PeerMode.SEED if roll < 0.22 else PeerMode.LIVESEED if roll < 0.3 else PeerMode.LEECH
            await tracker.handle(
                JoinRequest(f"j{n}.{j}", peerID, authToken=connected.authToken, swarmID=swarms[index], mode=mode),
                origin,
            )
    tracker.metrics.refused("connections")


def warnings() -> RecentWarnings:
    """
    A warning buffer holding what a tracker might have logged.
    """
    recent = RecentWarnings()
    publisher = LogPublisher(recent)
    Logger(namespace="ppsp.tracker.admin", observer=publisher).warn(
        "admin interface refused {method} {path} from {client}: {reason}",
        method="GET",
        path="/",
        client="127.0.0.1",
        reason="this admin interface does not answer for the host 'tracker.example.net:7001'",
    )
    Logger(namespace="ppsp.tracker.reload", observer=publisher).error(
        "revocation file {path} not applied, the previous revocations stay: {reason}",
        path="/etc/ppsp/revoked",
        reason="line 3: not a PeerID or a credential fingerprint",
    )
    return recent


async def main(reactor: Any, output: str) -> None:
    clock = Clock()
    clock.advance(1_796_300_000)
    rng = random.Random(12)
    tracker = Tracker(clock, TrackerConfig(keepAliveInterval=600, peerTimeout=3600))
    await populate(tracker, clock, rng)
    status = StatusPage(
        tracker,
        settings={
            "selector": "random",
            "keepalive-interval": 600,
            "peer-timeout": 3600,
            "default-peers": 50,
            "rate-limit": 20,
            "swarms": "created on JOIN",
            "auth": "token",
            "admin": "tcp:7001:interface=127.0.0.1",
        },
        endpoints={"peers": "tcp:7000", "admin": "tcp:7001:interface=127.0.0.1"},
        warnings=warnings(),
    )
    port = reactor.listenTCP(0, Site(AdminResource(tracker, status=status)), interface="127.0.0.1")
    url = f"http://127.0.0.1:{port.getHost().port}/"
    try:
        with tempfile.TemporaryDirectory() as profile:
            out, err, code = await getProcessOutputAndValue(
                "chromium",
                CHROMIUM_FLAGS
                + [f"--user-data-dir={profile}", f"--window-size={WINDOW}", f"--screenshot={output}", url],
                env=dict(os.environ),
                reactor=reactor,
            )
    finally:
        await Deferred.fromCoroutine(_stop(port))
    if code != 0 or not os.path.exists(output):
        raise SystemExit(f"chromium failed ({code}): {err.decode(errors='replace')}")
    print(f"wrote {output}")


async def _stop(port: Any) -> None:
    await port.stopListening()


if __name__ == "__main__":
    args: List[str] = sys.argv[1:]
    react(lambda reactor: ensureDeferred(main(reactor, args[0] if args else OUTPUT)))
