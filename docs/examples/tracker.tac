# A twistd application file: the site of embed_tracker.py, with the PPSP
# tracker mounted at /tracker, listening on TCP port 8080.
#
#     twistd -ny docs/examples/tracker.tac
#
# (-n keeps it in the foreground and logs to standard output.)

from twisted.application import service, strports
from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.static import Data

from ppsp.tracker import (
    Tracker,
    TrackerConfig,
    TrackerResource,
    TrackerService,
    TrackerSite,
)

tracker = Tracker(reactor, TrackerConfig(keepAliveInterval=60, peerTimeout=180))

root = Resource()
root.putChild(b"", Data(b"<p>My video site.</p>\n", "text/html; charset=utf-8"))
root.putChild(b"tracker", TrackerResource(tracker, maxBody=64 * 1024))
site = TrackerSite(root, maxBody=64 * 1024, reactor=reactor)

application = service.Application("ppsp-tracker")
web = strports.service("tcp:8080", site, reactor=reactor)
web.setName("web")
web.setServiceParent(application)
timers = TrackerService(tracker)
timers.setName("tracker")
timers.setServiceParent(application)
