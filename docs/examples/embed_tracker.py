"""
Embed a PPSP tracker in an existing twisted.web site.

The site has its own root resource (here a one-line home page) and serves
the tracker protocol at /tracker and below.  Run it with:

    python docs/examples/embed_tracker.py

and send tracker requests to http://127.0.0.1:8080/tracker.  Importing this
module starts nothing: tests call makeApplicationService() with a fake
reactor.
"""

from __future__ import annotations

from typing import Any

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.internet.endpoints import serverFromString
from twisted.web.resource import Resource
from twisted.web.static import Data

from ppsp.tracker import (
    Tracker,
    TrackerConfig,
    TrackerResource,
    TrackerService,
    TrackerSite,
)

#: Where the site listens.
LISTEN = "tcp:8080"


def makeSite(tracker: Tracker, reactor: Any) -> TrackerSite:
    """
    The application's site: its own pages, with the tracker mounted at
    /tracker.
    """
    root = Resource()
    root.putChild(b"", Data(b"<p>My video site.</p>\n", "text/html; charset=utf-8"))
    root.putChild(b"tracker", TrackerResource(tracker, maxBody=64 * 1024))
    # TrackerSite refuses oversized bodies while they arrive, does not parse
    # POST bodies as forms and keeps the access log off.  A plain Site works
    # too, with the limits described in docs/embedding.rst.
    return TrackerSite(root, maxBody=64 * 1024, reactor=reactor)


def makeApplicationService(reactor: Any, listen: str = LISTEN) -> MultiService:
    """
    Build the application: the web site listening on C{listen}, and the
    tracker's timers.  Nothing runs until the returned service starts.

    @param reactor: the reactor to listen with and to take time from (a
        L{MemoryReactorClock<twisted.internet.testing.MemoryReactorClock>}
        in tests).
    @param listen: a server endpoint description.
    """
    tracker = Tracker(reactor, TrackerConfig(keepAliveInterval=60, peerTimeout=180))
    application = MultiService()
    endpoint = serverFromString(reactor, listen)
    web = StreamServerEndpointService(endpoint, makeSite(tracker, reactor))
    web.setName("web")
    web.setServiceParent(application)
    timers = TrackerService(tracker)
    timers.setName("tracker")
    timers.setServiceParent(application)
    return application


def main() -> None:
    import sys

    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    application = makeApplicationService(reactor)
    application.startService()
    reactor.addSystemEventTrigger("before", "shutdown", application.stopService)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
