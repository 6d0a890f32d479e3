"""
Tests for the transport-level defences of the tracker (issue 13): the
PROXY protocol read only from trusted proxies, the cap on open
connections and the listen backlog, C{Expect: 100-continue} on a refused
body, and TLS spoken to a plain-HTTP port.  Where the hole is at the
transport (the PROXY header, file handles), real sockets, and for file
handles a real C{twistd} process with a small limit of open files.
"""

from __future__ import annotations

import os
import sys
from typing import Any, List

from twisted.internet import reactor as _reactor
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred, inlineCallbacks, race
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectError
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import LogLevel, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase

from ppsp.test.test_security import RawClient, message
from ppsp.test.test_twistd import BIN, TrackerProcess, spawn
from ppsp.tracker.core import Tracker, TrackerConfig
from ppsp.tracker.listening import (
    DEFAULT_BACKLOG,
    defaultMaxConnections,
    listeningEndpoint,
    withBacklog,
)
from ppsp.tracker.resource import TrackerResource, TrackerSite
from ppsp.tracker.tap import Options, makeService

reactor: Any = _reactor

XML = b"application/ppsp-tracker+xml"


def post(body: bytes, close: bool = True) -> bytes:
    """
    An HTTP POST of C{body} to the tracker.
    """
    return (
        b"POST / HTTP/1.1\r\nHost: t\r\n" + (b"Connection: close\r\n" if close else b"")
        + b"Content-Type: " + XML + b"\r\nContent-Length: %d\r\n\r\n" % (len(body),) + body
    )


@inlineCallbacks
def exchange(port: int, data: bytes) -> Any:
    """
    Connect to C{port} on 127.0.0.1, send C{data} and return what comes
    back until the server closes; C{b""} also when the server resets the
    connection before the client saw it made.
    """
    client = RawClient(data)
    try:
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
    except ConnectError:
        return b""
    answer = yield client.done
    return answer


@inlineCallbacks
def answered(port: int, data: bytes) -> Any:
    """
    What L{exchange} returns, trying again (up to 500 times, 10 ms apart)
    while the server closes the connection unanswered: for the moment a
    server takes to notice that connections have closed.
    """
    for attempt in range(500):
        answer = yield exchange(port, data)
        if answer:
            return answer
        yield deferLater(reactor, 0.01, lambda: None)
    return b""


def hangUp(clients: List[RawClient]) -> None:
    """
    Close the connections of C{clients} that are still open.
    """
    for client in clients:
        transport: Any = client.transport
        if transport is not None and not client.done.called:
            transport.loseConnection()


def capture(testCase: Any) -> List[dict[str, Any]]:
    """
    The log events published while C{testCase} runs.
    """
    events: List[dict[str, Any]] = []
    observer: Any = events.append
    globalLogPublisher.addObserver(observer)
    testCase.addCleanup(globalLogPublisher.removeObserver, observer)
    return events


def serveWith(site: TrackerSite, peer: Any = None) -> tuple[Any, StringTransport]:
    """
    A connection of C{site} from C{peer}, on a L{StringTransport}.
    """
    peer = peer or IPv4Address("TCP", "198.51.100.1", 40000)
    protocol = site.buildProtocol(peer)
    transport = StringTransport(peerAddress=peer)
    protocol.makeConnection(transport)
    return protocol, transport


class BacklogTests(SynchronousTestCase):
    """
    The tracker listens with a backlog of 1,024 unless told otherwise
    (Twisted's default of 50 made clients wait a second at 1,000 clients).
    """

    def test_descriptions(self) -> None:
        """
        C{backlog=1024} is added to the endpoint types that take one, when
        the description gives none; a given backlog and other types are
        left alone.
        """
        self.assertEqual(withBacklog("tcp:7000"), "tcp:7000:backlog=1024")
        self.assertEqual(
            withBacklog("tcp6:7000:interface=\\:\\:1"), "tcp6:7000:interface=\\:\\:1:backlog=1024"
        )
        self.assertEqual(withBacklog("unix:/run/p.sock"), "unix:/run/p.sock:backlog=1024")
        self.assertEqual(withBacklog("ssl:7443:privateKey=k.pem"), "ssl:7443:privateKey=k.pem:backlog=1024")
        self.assertEqual(withBacklog("mtls:7443:caCerts=c.pem"), "mtls:7443:caCerts=c.pem:backlog=1024")
        self.assertEqual(withBacklog("tcp:7000:backlog=64"), "tcp:7000:backlog=64")
        self.assertEqual(withBacklog("systemd:domain=INET:index=0"), "systemd:domain=INET:index=0")
        # An escaped "backlog=" is part of another value, not the keyword.
        self.assertEqual(
            withBacklog("unix:/tmp/a\\:backlog=3"), "unix:/tmp/a\\:backlog=3:backlog=1024"
        )

    def test_listens(self) -> None:
        """
        The endpoint of a C{tcp:} description, and the inner one of a
        C{haproxy:} description, listen with a backlog of 1,024.
        """
        memory = MemoryReactorClock()
        for description in ("tcp:7000", "haproxy:tcp:7001:interface=127.0.0.1"):
            listeningEndpoint(memory, description).listen(Factory())
        self.assertEqual(
            [(port, backlog) for port, _, backlog, _ in memory.tcpServers],
            [(7000, DEFAULT_BACKLOG), (7001, DEFAULT_BACKLOG)],
        )

    def test_makeService(self) -> None:
        """
        C{twistd ppsp-tracker} listens with a backlog of 1,024 on
        C{--listen} and C{--admin}.
        """
        memory = MemoryReactorClock()
        options = Options()
        options.parseOptions(["--listen", "tcp:7000", "--admin", "tcp:7001:interface=127.0.0.1"])
        service = makeService(options, memory)
        service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual(
            sorted((port, backlog) for port, _, backlog, _ in memory.tcpServers),
            [(7000, DEFAULT_BACKLOG), (7001, DEFAULT_BACKLOG)],
        )


class TrustedProxyTests(SynchronousTestCase):
    """
    A C{haproxy:} listener serves connections from trusted proxies only:
    loopback without C{--trusted-proxy}, else the networks it names.
    """

    def factory(self, description: str, trusted: Any = ()) -> Any:
        memory = MemoryReactorClock()
        memory.advance(100)
        self.memory = memory
        listeningEndpoint(memory, description, trusted).listen(Factory.forProtocol(Protocol))
        return memory.tcpServers[-1][1]

    def test_loopbackByDefault(self) -> None:
        """
        Without trusted proxies, loopback sources (IPv4, IPv6 and
        IPv4-mapped IPv6) are served and any other source gets no
        protocol, which makes the port close the socket.
        """
        factory = self.factory("haproxy:tcp:7000")
        for host in ("127.0.0.1", "127.0.0.77"):
            self.assertIsNotNone(factory.buildProtocol(IPv4Address("TCP", host, 1)))
        for host in ("::1", "::ffff:127.0.0.1"):
            self.assertIsNotNone(factory.buildProtocol(IPv6Address("TCP", host, 1)))
        self.assertIsNone(factory.buildProtocol(IPv4Address("TCP", "203.0.113.9", 1)))
        self.assertIsNone(factory.buildProtocol(IPv4Address("TCP", "192.168.1.1", 1)))
        self.assertIsNone(factory.buildProtocol(IPv6Address("TCP", "2001:db8::1", 1)))

    def test_trustedProxies(self) -> None:
        """
        With trusted proxies, only they are served: loopback is no longer
        trusted unless listed.
        """
        factory = self.factory("haproxy:tcp:7000", ["10.0.0.0/8"])
        self.assertIsNotNone(factory.buildProtocol(IPv4Address("TCP", "10.1.2.3", 1)))
        self.assertIsNone(factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1)))

    def test_unixSocket(self) -> None:
        """
        A peer of a UNIX socket (no IP address) is served: the socket
        file's permissions decide who may connect.
        """
        factory = self.factory("haproxy:tcp:7000", ["10.0.0.0/8"])
        self.assertIsNotNone(factory.buildProtocol(UNIXAddress(None)))

    def test_refusalsLogged(self) -> None:
        """
        Refused connections are logged at most once a second, the next
        line counting those not logged.
        """
        events = capture(self)
        factory = self.factory("haproxy:tcp:7000")
        for _ in range(5):
            factory.buildProtocol(IPv4Address("TCP", "203.0.113.9", 1))
        self.memory.advance(1)
        factory.buildProtocol(IPv4Address("TCP", "203.0.113.9", 1))
        refused = [e for e in events if "not a trusted proxy" in e.get("log_format", "")]
        self.assertEqual([e["suppressed"] for e in refused], [0, 4])
        self.assertEqual(refused[0]["log_level"], LogLevel.warn)

    def test_makeService(self) -> None:
        """
        C{twistd ppsp-tracker --listen haproxy:…} takes the PROXY header
        only from C{--trusted-proxy} addresses.
        """
        memory = MemoryReactorClock()
        options = Options()
        options.parseOptions(["--listen", "haproxy:tcp:7000", "--trusted-proxy", "10.0.0.0/8"])
        service = makeService(options, memory)
        service.startService()
        self.addCleanup(service.stopService)
        factory = memory.tcpServers[0][1]
        self.assertIsNone(factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1)))
        self.assertIsNotNone(factory.buildProtocol(IPv4Address("TCP", "10.0.0.1", 1)))


class ProxyOverSocketTests(TestCase):
    """
    The PROXY protocol on real sockets: a client that is not a trusted
    proxy cannot choose the address the tracker observes.
    """

    timeout = 30

    @inlineCallbacks
    def exchange(self, trusted: Any, peerID: str) -> Any:
        tracker = Tracker(reactor, TrackerConfig())
        endpoint = listeningEndpoint(reactor, "haproxy:tcp:0:interface=127.0.0.1", trusted)
        port = yield endpoint.listen(TrackerSite(TrackerResource(tracker)))
        self.addCleanup(port.stopListening)
        number = port.getHost().port
        header = b"PROXY TCP4 127.0.0.77 127.0.0.1 56324 %d\r\n" % (number,)
        answer = yield exchange(number, header + post(message("CONNECT", "1", peerID)))
        return tracker, answer

    @inlineCallbacks
    def test_untrustedSourceClosed(self) -> Any:
        """
        A client at 127.0.0.1 that is not a trusted proxy (only
        10.0.0.0/8 is) sends a PROXY header naming 127.0.0.77: its
        connection is closed unanswered and nothing is registered.
        """
        tracker, answer = yield self.exchange(["10.0.0.0/8"], "forger")
        self.assertEqual(answer, b"")
        self.assertIsNone((yield tracker.store.peer("forger")))

    @inlineCallbacks
    def test_trustedSourceServed(self) -> Any:
        """
        From a trusted proxy (loopback, by default) the header's address
        is the peer's.
        """
        tracker, answer = yield self.exchange((), "proxied")
        self.assertIn(b"200 OK", answer)
        self.assertEqual((yield tracker.store.peer("proxied")).observedIP, "127.0.0.77")


class ConnectionCapTests(SynchronousTestCase):
    """
    A L{TrackerSite} with C{maxConnections} closes connections beyond the
    cap as soon as they are accepted, and logs that at most once a second.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(100)
        self.site = TrackerSite(
            TrackerResource(Tracker(self.clock, TrackerConfig())), maxConnections=2, reactor=self.clock
        )

    def test_cap(self) -> None:
        """
        The third connection is closed at once; once one of the first two
        is lost, a new connection is served again.
        """
        first, _ = serveWith(self.site)
        second, secondTransport = serveWith(self.site)
        _, third = serveWith(self.site)
        self.assertTrue(third.disconnected)
        self.assertFalse(secondTransport.disconnecting)
        self.assertEqual(self.site.openConnections, 2)
        first.connectionLost(None)
        self.assertEqual(self.site.openConnections, 1)
        fourth, fourthTransport = serveWith(self.site)
        self.assertFalse(fourthTransport.disconnecting)
        fourth.dataReceived(post(message("CONNECT", "1", "p")))
        self.assertIn(b"200 OK", fourthTransport.value())

    def test_refusalsLogged(self) -> None:
        """
        Many refusals within a second give one log line; the next second's
        line counts the ones not logged.
        """
        events = capture(self)
        serveWith(self.site)
        serveWith(self.site)
        for _ in range(10):
            serveWith(self.site)
        self.clock.advance(1)
        serveWith(self.site)
        refused = [e for e in events if "--max-connections" in e.get("log_format", "")]
        self.assertEqual([e["suppressed"] for e in refused], [0, 9])

    def test_noCap(self) -> None:
        """
        Without C{maxConnections} every connection is served.
        """
        site = TrackerSite(TrackerResource(Tracker(self.clock, TrackerConfig())), reactor=self.clock)
        transports = [serveWith(site)[1] for _ in range(50)]
        self.assertFalse(any(t.disconnecting for t in transports))

    def test_default(self) -> None:
        """
        The default cap leaves a reserve of an eighth of the file limit,
        at least 128 and at most half of it; no limit, no cap.
        """
        self.assertEqual(defaultMaxConnections(1024), 896)
        self.assertEqual(defaultMaxConnections(256), 128)
        self.assertEqual(defaultMaxConnections(64), 32)
        self.assertEqual(defaultMaxConnections(65536), 57344)
        self.assertEqual(defaultMaxConnections(None), 0)

    def test_options(self) -> None:
        """
        C{--max-connections} reaches the site and the start-up settings;
        without it the cap is derived from the file limit; 0 is no cap.
        """
        memory = MemoryReactorClock()
        options = Options()
        options.parseOptions(["--max-connections", "7", "--admin", "tcp:7001:interface=127.0.0.1"])
        service = makeService(options, memory)
        service.startService()
        self.addCleanup(service.stopService)
        sites: Any = {port: factory for port, factory, _, _ in memory.tcpServers}
        self.assertEqual(sites[7000].maxConnections, 7)
        self.assertLess(sites[7001].maxConnections, 128)
        options = Options()
        options.parseOptions([])
        self.assertGreater(options["max-connections"], 0)
        options = Options()
        options.parseOptions(["--max-connections", "0"])
        memory = MemoryReactorClock()
        makeService(options, memory).startService()
        site: Any = memory.tcpServers[0][1]
        self.assertIsNone(site.maxConnections)


class ConnectionCapOverSocketTests(TestCase):
    """
    The cap on real sockets, plain TCP and behind the PROXY-protocol
    wrapper.
    """

    timeout = 30

    @inlineCallbacks
    def check(self, description: str, prefix: bytes) -> Any:
        tracker = Tracker(reactor, TrackerConfig())
        site = TrackerSite(TrackerResource(tracker), maxConnections=3)
        port = yield listeningEndpoint(reactor, description).listen(site)
        self.addCleanup(port.stopListening)
        number = port.getHost().port
        idle = [RawClient(b"") for _ in range(3)]
        for client in idle:
            yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", number), client)
        self.addCleanup(hangUp, idle)
        answer = yield exchange(number, prefix + post(message("CONNECT", "1", "refused")))
        self.assertEqual(answer, b"")
        self.assertIsNone((yield tracker.store.peer("refused")))
        self.assertFalse(any(c.done.called for c in idle))
        hangUp(idle[:1])
        yield idle[0].done
        answer = yield answered(number, prefix + post(message("CONNECT", "2", "served")))
        self.assertIn(b"200 OK", answer)

    def test_plain(self) -> Any:
        """
        With three connections open, a fourth is closed without an answer;
        once one closes, a new one is served.
        """
        return self.check("tcp:0:interface=127.0.0.1", b"")

    def test_proxyProtocol(self) -> Any:
        """
        Behind the PROXY-protocol wrapper too (where a factory that
        returned no protocol would break the wrapper).
        """
        return self.check("haproxy:tcp:0:interface=127.0.0.1", b"PROXY TCP4 203.0.113.7 127.0.0.1 1 2\r\n")


class FileHandleTests(TestCase):
    """
    A real C{twistd ppsp-tracker} with a limit of 256 open files, flooded
    with idle connections: it keeps its file descriptors, its log stays
    short, its admin interface stays reachable, and it serves again once
    the flood ends.
    """

    timeout = 60

    def start(self, limit: int) -> TrackerProcess:
        twistd = os.path.join(BIN, "twistd")
        argv = [
            sys.executable,
            "-c",
            "import os, resource, sys; "
            f"resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit})); "
            "os.execv(sys.argv[1], sys.argv[1:])",
            twistd, "-n", "--pidfile=", "ppsp-tracker",
            "--listen", "tcp:0:interface=127.0.0.1",
            "--admin", "tcp:0:interface=127.0.0.1",
        ]
        process = TrackerProcess()
        spawn(self, process, argv)
        return process

    @inlineCallbacks
    def test_flood(self) -> Any:
        """
        300 idle connections to a tracker that may open 256 files (so at
        most 128 connections, by default): the excess is closed at once,
        with at most a line a second in the log and never an accept
        failure (EMFILE); the admin interface answers meanwhile; after
        the flood a CONNECT is answered OK.
        """
        process = self.start(256)
        number = yield process.listening
        started = reactor.seconds()
        # The admin listener's line may come after the tracker's.
        match = yield process.waitFor(rb"admin interface listening at 127\.0\.0\.1:(\d+)")
        admin = int(match.group(1))
        self.assertIn(b"max-connections=128", process.output)
        clients = [RawClient(b"") for _ in range(300)]
        count = [0]
        excessClosed: Deferred[None] = Deferred()

        def lost(_: Any) -> Any:
            count[0] += 1
            if count[0] == 300 - 128:
                excessClosed.callback(None)
            return _

        for client in clients:
            client.done.addBoth(lost)
            connecting = connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", number), client)
            # A connection refused while the client is still connecting
            # (reset) fails to connect: it counts as closed too.
            connecting.addErrback(lambda _, client=client: client.done.callback(b""))
            yield connecting
        self.addCleanup(hangUp, clients)
        # Until the excess is closed (or the tracker runs out of files,
        # which the assertions below then report).
        yield race([excessClosed, process.waitFor(rb"EMFILE", timeout=self.timeout)])
        answer = yield exchange(admin, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        self.assertTrue(answer.startswith(b"HTTP/1.1 "), answer)
        elapsed = reactor.seconds() - started

        hangUp(clients)
        answer = yield answered(number, post(message("CONNECT", "1", "honest")))
        self.assertIn(b"200 OK", answer)

        log = process.output.decode(errors="replace")
        self.assertNotIn("EMFILE", log)
        self.assertNotIn("Could not accept", log)
        lines = log.count("--max-connections)")
        self.assertGreaterEqual(lines, 1)
        self.assertLessEqual(lines, int(elapsed) + 2)


class ExpectContinueTests(SynchronousTestCase):
    """
    C{Expect: 100-continue} with a body too large gets the 413 alone.
    """

    def channel(self) -> tuple[Any, StringTransport]:
        clock = Clock()
        site = TrackerSite(
            TrackerResource(Tracker(clock, TrackerConfig()), maxBody=1000), maxBody=1000, reactor=clock
        )
        return serveWith(site)

    def test_tooLarge(self) -> None:
        """
        A declared Content-Length over the limit with C{Expect:
        100-continue} is answered 413 and the connection closed, with no
        C{100 Continue} before or after.
        """
        channel, transport = self.channel()
        channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: " + XML
            + b"\r\nExpect: 100-continue\r\nContent-Length: 100000\r\n\r\n"
        )
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 413 "), transport.value())
        self.assertNotIn(b"100 Continue", transport.value())
        self.assertTrue(transport.disconnecting)

    def test_accepted(self) -> None:
        """
        A body within the limit still gets C{100 Continue}, then its answer.
        """
        channel, transport = self.channel()
        body = message("CONNECT", "1", "p")
        channel.dataReceived(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: " + XML
            + b"\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (len(body),)
        )
        self.assertEqual(transport.value(), b"HTTP/1.1 100 Continue\r\n\r\n")
        channel.dataReceived(body)
        self.assertIn(b"HTTP/1.1 200 OK", transport.value())


#: The start of a TLS 1.2 ClientHello record.
CLIENT_HELLO = bytes.fromhex("16030100f1010000ed0303") + b"\x00" * 32


class TLSHelloTests(SynchronousTestCase):
    """
    A TLS ClientHello as the first bytes of a plain-HTTP connection closes
    it at once, with at most a line a second in the log.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(100)
        self.site = TrackerSite(TrackerResource(Tracker(self.clock, TrackerConfig())), reactor=self.clock)

    def test_closed(self) -> None:
        """
        The connection is aborted unanswered, before the request deadline.
        """
        channel, transport = serveWith(self.site)
        channel.dataReceived(CLIENT_HELLO)
        self.assertTrue(transport.disconnected)
        self.assertEqual(transport.value(), b"")

    def test_onlyFirstBytes(self) -> None:
        """
        Only the first byte of the connection counts: a body byte 0x16 in
        a later read is data like any other.
        """
        channel, transport = serveWith(self.site)
        body = message("CONNECT", "1", "p")
        request = post(body)
        channel.dataReceived(request[:10])
        channel.dataReceived(b"\x16" + request[10:])
        self.assertFalse(transport.disconnected)

    def test_logged(self) -> None:
        """
        Ten such connections within a second give one log line.
        """
        events = capture(self)
        for _ in range(10):
            channel, _ = serveWith(self.site)
            channel.dataReceived(CLIENT_HELLO)
        lines = [e for e in events if "speaks TLS" in e.get("log_format", "")]
        self.assertEqual(len(lines), 1)


class TLSHelloOverSocketTests(TestCase):
    """
    The same on a real socket, with no request deadline to fall back on.
    """

    timeout = 10

    @inlineCallbacks
    def test_closedAtOnce(self) -> Any:
        """
        The server closes the connection after the ClientHello, without an
        answer, although the site has no request deadline.
        """
        site = TrackerSite(TrackerResource(Tracker(reactor, TrackerConfig())), requestTimeout=None)
        port = yield listeningEndpoint(reactor, "tcp:0:interface=127.0.0.1").listen(site)
        self.addCleanup(port.stopListening)
        client = RawClient(CLIENT_HELLO)
        yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port), client)
        answer = yield client.done
        self.assertEqual(answer, b"")
