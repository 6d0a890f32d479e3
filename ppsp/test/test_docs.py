"""
Tests for the examples of the documentation (C{docs/examples/}): each one
builds what the docs say it builds, listens where the docs say, and its
tracker answers the protocol.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any, Dict

from lxml import etree
from treq.testing import StubTreq
from twisted.application.service import IService, IServiceCollection, loadApplication
from twisted.internet import address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, SynchronousTestCase

import ppsp
from ppsp.tracker.listening import defaultMaxConnections
from ppsp.tracker.resource import TrackerSite
from ppsp.tracker.service import TrackerService
from ppsp.tracker.tap import Options, makeService

#: The examples folder of a source checkout (absent from an installed copy).
EXAMPLES = FilePath(ppsp.__file__).parent().sibling("docs").child("examples")

_NO_EXAMPLES = "docs/examples/ is not beside this ppsp package (an installed copy?)"

CONNECT = b"""<?xml version="1.0" encoding="UTF-8"?>
<PPSPTrackerProtocol version="1.0">
  <Method>CONNECT</Method>
  <TransactionID>1</TransactionID>
  <PeerID>peer-a</PeerID>
  <PeerAddresses>
    <PeerAddress ip="127.0.0.1" port="7001" type="HOST" priority="1"/>
  </PeerAddresses>
</PPSPTrackerProtocol>
"""

XML_TYPE = b"application/ppsp-tracker+xml"


def loadExample(name: str) -> ModuleType:
    """
    Import C{docs/examples/<name>.py} as a module of its own.
    """
    path = EXAMPLES.child(name + ".py").path
    spec = importlib.util.spec_from_file_location(f"_ppsp_docs_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def makeStub(resource: Any) -> Any:
    """
    A L{StubTreq} serving C{resource} in memory (typed loosely: its request
    methods are set on the instance).
    """
    return StubTreq(resource)


def fields(body: bytes) -> Dict[str, str]:
    """
    The text of each child element of a response document, by tag.
    """
    root = etree.fromstring(body)
    assert root.tag == "PPSPTrackerProtocol", root.tag
    return {child.tag: (child.text or "").strip() for child in root if isinstance(child.tag, str)}


class TrackerAnswersMixin:
    """
    Checks shared by every example: the mounted tracker answers a POST.
    """

    def assertTrackerAnswers(self: Any, root: Any, url: bytes) -> None:
        """
        A CONNECT posted to C{url} under C{root} gets OK with a token.
        """
        stub = makeStub(root)
        response = self.successResultOf(
            stub.post(url, data=CONNECT, headers={b"content-type": [XML_TYPE]})
        )
        body = self.successResultOf(stub.content(response))
        self.assertEqual(response.code, 200, body)
        self.assertTrue(
            response.headers.getRawHeaders(b"content-type")[0].startswith(XML_TYPE)
        )
        self.assertEqual(response.headers.getRawHeaders(b"cache-control"), [b"no-store"])
        answer = fields(body)
        self.assertEqual(answer["Response"], "OK")
        self.assertEqual(answer["TransactionID"], "1")
        self.assertTrue(answer["AuthToken"])
        self.assertEqual(answer["KeepAliveInterval"], "60")


class EmbedExampleTests(TrackerAnswersMixin, SynchronousTestCase):
    """
    C{docs/examples/embed_tracker.py}: a site with its own pages and the
    tracker at C{/tracker}, on TCP port 8080.
    """

    if not EXAMPLES.isdir():
        skip = _NO_EXAMPLES

    def setUp(self) -> None:
        self.example = loadExample("embed_tracker")
        self.reactor = MemoryReactorClock()
        self.application = self.example.makeApplicationService(self.reactor)
        self.web = IServiceCollection(self.application).getServiceNamed("web")

    def start(self) -> None:
        """
        Start the application, and stop it when the test ends.
        """
        self.application.startService()
        self.addCleanup(self.application.stopService)

    def test_nothingBeforeStart(self) -> None:
        """
        Building the application neither listens nor schedules anything:
        only starting it does.
        """
        self.assertEqual(self.reactor.tcpServers, [])
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_listens(self) -> None:
        """
        Once started, the application listens on TCP port 8080 (every
        interface) with a L{TrackerSite}, and the tracker's timers run
        every second (and the metrics' history sampling every 10).
        """
        self.start()
        [(port, factory, _backlog, interface)] = self.reactor.tcpServers
        self.assertEqual((port, interface), (8080, ""))
        self.assertIsInstance(factory, TrackerSite)
        self.assertIs(factory, self.web.factory)
        timers = IServiceCollection(self.application).getServiceNamed("tracker")
        self.assertIsInstance(timers, TrackerService)
        calls = sorted(call.getTime() - self.reactor.seconds() for call in self.reactor.getDelayedCalls())
        self.assertEqual(calls, [1, 10])

    def test_stop(self) -> None:
        """
        Stopping the application stops the timers.
        """
        self.application.startService()
        self.application.stopService()
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_homePage(self) -> None:
        """
        The site's own page is still served at C{/}.
        """
        stub = makeStub(self.web.factory.resource)
        response = self.successResultOf(stub.get(b"http://127.0.0.1:8080/"))
        self.assertEqual(response.code, 200)
        self.assertIn(b"My video site", self.successResultOf(stub.content(response)))

    def test_trackerAnswersPost(self) -> None:
        """
        A CONNECT posted to C{/tracker} is answered OK, in XML.
        """
        self.assertTrackerAnswers(self.web.factory.resource, b"http://127.0.0.1:8080/tracker")

    def test_trackerAnswersBelowItsPath(self) -> None:
        """
        The tracker also answers at any path below C{/tracker}.
        """
        self.assertTrackerAnswers(
            self.web.factory.resource, b"http://127.0.0.1:8080/tracker/video_1"
        )

    def test_trackerRefusesGet(self) -> None:
        """
        A GET of C{/tracker} gets 405 with C{Allow: POST} and a MESSAGE NOT
        SUPPORTED body.
        """
        stub = makeStub(self.web.factory.resource)
        response = self.successResultOf(stub.get(b"http://127.0.0.1:8080/tracker"))
        body = self.successResultOf(stub.content(response))
        self.assertEqual(response.code, 405)
        self.assertEqual(response.headers.getRawHeaders(b"allow"), [b"POST"])
        self.assertEqual(fields(body)["Response"], "MESSAGE NOT SUPPORTED")

    def test_timersExpirePeers(self) -> None:
        """
        The started application's timers expire a silent peer after the
        peer timeout (180 s); its next request gets AUTHENTICATION
        REQUIRED.
        """
        self.start()
        stub = makeStub(self.web.factory.resource)
        url = b"http://127.0.0.1:8080/tracker"
        headers = {b"content-type": [XML_TYPE]}
        response = self.successResultOf(stub.post(url, data=CONNECT, headers=headers))
        token = fields(self.successResultOf(stub.content(response)))["AuthToken"]
        tracker = self.web.factory.resource.getStaticEntity(b"tracker").tracker
        self.assertEqual(self.successResultOf(tracker.store.counts())[0], 1)
        self.reactor.advance(181)
        # The sweep removed it, before any request could notice.
        self.assertEqual(self.successResultOf(tracker.store.counts())[0], 0)
        keepAlive = (
            b'<PPSPTrackerProtocol version="1.0"><Method>KEEPALIVE</Method>'
            b"<TransactionID>2</TransactionID><PeerID>peer-a</PeerID>"
            b"<AuthToken>" + token.encode("ascii") + b"</AuthToken></PPSPTrackerProtocol>"
        )
        response = self.successResultOf(stub.post(url, data=keepAlive, headers=headers))
        body = self.successResultOf(stub.content(response))
        self.assertEqual(response.code, 401)
        self.assertEqual(fields(body)["Response"], "AUTHENTICATION REQUIRED")

    def test_oversizedBodyRefusedEarly(self) -> None:
        """
        The site refuses a declared body over 64 KiB with 413 and closes
        the connection, before any of the body arrives.
        """
        protocol = self.web.factory.buildProtocol(address.IPv4Address("TCP", "127.0.0.1", 1))
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(
            b"POST /tracker HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/ppsp-tracker+xml\r\n"
            b"Content-Length: 65537\r\n\r\n"
        )
        head, _, body = transport.value().partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 413 "), head)
        self.assertEqual(fields(body)["Response"], "INVALID SYNTAX")
        self.assertTrue(transport.disconnecting)


class TacExampleTests(TrackerAnswersMixin, SynchronousTestCase):
    """
    C{docs/examples/tracker.tac}: the same application as a twistd
    application file.
    """

    if not EXAMPLES.isdir():
        skip = _NO_EXAMPLES

    def setUp(self) -> None:
        # The .tac file uses the global reactor, as twistd expects; give it
        # a fake one while it loads.
        import twisted.internet

        self.reactor = MemoryReactorClock()
        self.patch(twisted.internet, "reactor", self.reactor)
        self.application = loadApplication(EXAMPLES.child("tracker.tac").path, "python")
        self.web = IServiceCollection(self.application).getServiceNamed("web")

    def test_listens(self) -> None:
        """
        Started, the application listens on TCP port 8080 with a
        L{TrackerSite} and runs the tracker's timers.
        """
        service = IService(self.application)
        service.startService()
        self.addCleanup(service.stopService)
        [(port, factory, _backlog, interface)] = self.reactor.tcpServers
        self.assertEqual((port, interface), (8080, ""))
        self.assertIsInstance(factory, TrackerSite)
        self.assertIsInstance(
            IServiceCollection(self.application).getServiceNamed("tracker"), TrackerService
        )
        # The sweep and the metrics' history sampling.
        self.assertEqual(len(self.reactor.getDelayedCalls()), 2)

    def test_trackerAnswersPost(self) -> None:
        """
        A CONNECT posted to C{/tracker} is answered OK, in XML.
        """
        self.assertTrackerAnswers(self.web.factory.resource, b"http://127.0.0.1:8080/tracker")


class StartupLineTests(SynchronousTestCase):
    """
    The start-up line that C{docs/running.rst} shows is the one the
    tracker logs on its defaults (at a limit of 1,024 open files).
    """

    def test_documented(self) -> None:
        """
        The documented line, unwrapped, is what the tracker's listener
        logs for C{--listen tcp:7000}.
        """
        running = EXAMPLES.parent().child("running.rst")
        if not running.exists():
            raise SkipTest(_NO_EXAMPLES)
        text = running.getContent().decode("utf-8")
        block = text.partition("settings, for example::\n\n")[2].partition("\n\n")[0]
        documented = " ".join(line.strip() for line in block.splitlines())
        options = Options()
        options.parseOptions(
            ["--listen", "tcp:7000", "--max-connections", str(defaultMaxConnections(1024))]
        )
        service = makeService(options, MemoryReactorClock())
        with capturedLogs() as events:
            service.startService()
        self.addCleanup(service.stopService)
        [line] = [e for e in events if "listening on" in e.get("log_format", "")]
        self.assertEqual(documented, formatEvent(line))


class ReadmeTests(SynchronousTestCase):
    """
    The README is also the package index's page, where links relative to
    the source tree lead nowhere.
    """

    def test_noRelativeLinks(self) -> None:
        """
        The README names the docs pages as files, and links to none of
        them by a relative target.
        """
        readme = EXAMPLES.parent().sibling("README.rst")
        if not readme.exists():
            raise SkipTest(_NO_EXAMPLES)
        text = readme.getContent().decode("utf-8")
        self.assertNotIn("<docs/", text)
        self.assertIn("``docs/operations.rst``", text)
