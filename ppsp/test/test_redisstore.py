"""
Tests for L{ppsp.tracker.redisstore}: the store contract
(L{ppsp.testing.PeerStoreContractTests}) against a real redis-server that
each test starts (L{ppsp.test.redisserver}), and what the Redis store
promises beyond it: two stores on one server and prefix are one store,
their expiries never report one peer twice, two trackers on it serve
one set of peers, each method is one round
trip, the scripts come back after the server forgets them, its keys stay
under its prefix and go when the state goes, its retry cache, and its
URLs.
"""

from __future__ import annotations

import base64
import os
import pickle
import shutil
import tempfile
from random import Random
from typing import Any, Callable, List, Optional, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from ppsp.interfaces import IPeerStore, IRetryCache
from ppsp.messages import (
    ChunkRange,
    ConnectRequest,
    ConnectResponse,
    DisconnectRequest,
    DisconnectResponse,
    ErrorResponse,
    FindRequest,
    FindResponse,
    JoinRequest,
    JoinResponse,
    KeepAliveRequest,
    KeepAliveResponse,
    PeerAddress,
    PeerInfo,
    PeerMode,
    Request,
    Response,
    ResponseCode,
    StatReportResponse,
)
from ppsp.test.redisserver import Monitor, startRedis, testReactor
from ppsp.testing import PeerStoreContractTests
from ppsp.tracker.core import Origin, Tracker
from ppsp.tracker.credentials import SessionIdentity
from ppsp.tracker.redisstore import RedisPeerStore, connectRedisStore, parseRedisURL
from ppsp.tracker.values import Session

T = TypeVar("T")

_IP = "192.0.2.1"


class RedisTestCase(SynchronousTestCase):
    """
    A test with a redis-server of its own (C{server}), stores connected to
    it through the tests' reactor (L{connect<RedisTestCase.connect>}), and the reactor checked
    clean at the end.
    """

    def setUp(self) -> None:
        self.reactor = testReactor()
        self.addCleanup(self.assertReactorClean)
        self.server = startRedis(self)
        super().setUp()

    def assertReactorClean(self) -> None:
        """
        The test left no connection and no timed call in the reactor.
        """
        self.assertEqual(self.reactor.clean(), [])

    def connect(
        self, url: Optional[str] = None, prefix: str = "ppsp:", seed: int = 0
    ) -> RedisPeerStore:
        """
        A store on the test's server (or C{url}), closed when the test
        ends.
        """
        store = connectRedisStore(
            self.reactor, url or self.server.url, prefix=prefix, random=Random(seed)
        )
        self.addCleanup(lambda: self.reactor.runUntil(store.close(), "closing the store"))
        return store

    def wait(self, d: "Deferred[T]") -> T:
        """
        Turn the reactor until C{d} has fired, and its result.
        """
        self.reactor.runUntil(d)
        return self.successResultOf(d)

    def command(self, store: RedisPeerStore, *args: object) -> Any:
        """
        The reply to one command sent through C{store}'s connection.
        """
        return self.wait(store.client.execute(*args))

    def sessionOf(self, peerID: str, deadline: float = 100.0) -> Session:
        return Session(
            peerID, "token-" + peerID, _IP, 7000, (PeerAddress(_IP, 7001),), None, 0.0, deadline
        )


class RedisPeerStoreContractTests(PeerStoreContractTests, RedisTestCase):
    """
    L{RedisPeerStore} keeps the store contract against a real server:
    C{settle} turns the tests' reactor until every call made has answered.
    """

    def makeStore(self) -> IPeerStore:
        return self.connect(seed=13)

    def settle(self) -> None:
        assert isinstance(self.store, RedisPeerStore)
        self.reactor.runUntil(self.store.whenIdle())


class SharedStoreTests(RedisTestCase):
    """
    Stores on one server and one prefix share one state, as trackers of
    one logical tracker do; another prefix is another state.
    """

    def test_secondStoreSeesWrites(self) -> None:
        """
        What one store writes, an independent second store reads, and the
        other way round.
        """
        first, second = self.connect(seed=1), self.connect(seed=2)
        self.assertTrue(self.wait(first.register(self.sessionOf("p"), {"A": 1})))
        self.assertTrue(self.wait(second.join("p", "s", PeerMode.SEED, None, {}, 150.0, 0.0)))
        peer = self.wait(first.peer("p"))
        assert peer is not None
        self.assertEqual((peer.deadline, list(peer.swarms)), (150.0, ["s"]))
        self.assertEqual(self.wait(second.peer("p")), peer)
        self.assertFalse(self.wait(second.register(self.sessionOf("p"), {})))
        _, view = self.wait(second.lookup("q", "s", 5, None))
        assert view is not None
        self.assertEqual([m.peerID for m in view.modeMembers(PeerMode.SEED)], ["p"])
        self.assertIsNotNone(self.wait(second.disconnect("p", 10.0)))
        self.assertIsNone(self.wait(first.peer("p")))

    def test_prefixSeparates(self) -> None:
        """
        A store with another prefix on the same server sees none of the
        first one's state.
        """
        first, other = self.connect(), self.connect(prefix="other:")
        self.wait(first.register(self.sessionOf("p"), {}))
        self.assertIsNone(self.wait(other.peer("p")))
        self.assertEqual(self.wait(other.counts()), (0, 0))
        self.assertTrue(self.wait(other.register(self.sessionOf("p"), {})))

    def test_expireConcurrently(self) -> None:
        """
        Two stores that expire at once, several times over, each in
        batches smaller than what is due, report each peer, membership and
        swarm once between them.
        """
        first, second = self.connect(seed=1), self.connect(seed=2)
        first.expireBatch = second.expireBatch = 7
        for i in range(40):
            peerID = f"p{i}"
            self.wait(first.register(self.sessionOf(peerID, deadline=100.0 + i % 3), {}))
            self.wait(first.join(peerID, f"s{i % 4}", PeerMode.LEECH, None, {}, 100.0 + i % 3, 0.0))
        self.wait(first.register(self.sessionOf("stays", deadline=1000.0), {}))
        for i in range(10):
            self.wait(first.join("stays", f"x{i}", PeerMode.LEECH, 50.0, {}, 1000.0, 0.0))
        calls = [store.expire(200.0, 30.0) for _ in range(6) for store in (first, second)]
        self.reactor.runUntil(first.whenIdle())
        self.reactor.runUntil(second.whenIdle())
        peers: List[str] = []
        members: List[Any] = []
        for d in calls:
            expired = self.successResultOf(d)
            peers += [p.peerID for p in expired.peers]
            members += expired.members
        self.assertEqual(sorted(peers), sorted(f"p{i}" for i in range(40)))
        self.assertEqual(sorted(members), [(f"x{i}", "stays") for i in range(10)])
        self.assertEqual(self.wait(first.counts()), (1, 14))


class TwoTrackersTests(RedisTestCase):
    """
    Two L{Tracker}s, each with its own store on one server, act as one
    tracker.
    """

    def handle(self, tracker: Tracker, request: Request) -> Response:
        return self.wait(tracker.handle(request, Origin(_IP, 40000)))

    def test_oneLogicalTracker(self) -> None:
        """
        A peer that CONNECTs and JOINs through one tracker is listed by the
        other's FIND, keeps its session alive through it, and is removed by
        its DISCONNECT there.
        """
        clock = Clock()
        clock.advance(1000.0)
        first = Tracker(clock, store=self.connect(seed=1))
        second = Tracker(clock, store=self.connect(seed=2))
        tokens = {}
        for peerID, tracker in (("seed", first), ("leech", second)):
            connected = self.handle(
                tracker, ConnectRequest("c-" + peerID, peerID, addresses=(PeerAddress(_IP, 7001),))
            )
            assert isinstance(connected, ConnectResponse), connected
            tokens[peerID] = connected.authToken
        joined = self.handle(
            first, JoinRequest("j", "seed", tokens["seed"], swarmID="s", mode=PeerMode.SEED)
        )
        self.assertIsInstance(joined, JoinResponse)
        found = self.handle(second, FindRequest("f", "leech", tokens["leech"], swarmID="s"))
        assert isinstance(found, FindResponse), found
        self.assertEqual([p.peerID for p in found.peers], ["seed"])
        before = self.wait(first.store.peer("seed"))
        clock.advance(30.0)
        alive = self.handle(second, KeepAliveRequest("k", "seed", tokens["seed"]))
        self.assertIsInstance(alive, KeepAliveResponse)
        after = self.wait(first.store.peer("seed"))
        assert before is not None and after is not None
        self.assertEqual(after.deadline, before.deadline + 30.0)
        gone = self.handle(second, DisconnectRequest("d", "seed", tokens["seed"]))
        self.assertIsInstance(gone, DisconnectResponse)
        found = self.handle(first, FindRequest("f2", "leech", tokens["leech"], swarmID="s"))
        assert isinstance(found, FindResponse), found
        self.assertEqual(found.peers, ())


class RedisPeerStoreTests(RedisTestCase):
    """
    What L{RedisPeerStore} promises beyond the store contract.
    """

    def populate(self, store: RedisPeerStore, peers: int) -> None:
        for i in range(peers):
            peerID = f"p{i}"
            self.wait(store.register(self.sessionOf(peerID), {"A": i}))
            mode = PeerMode.SEED if i == 0 else PeerMode.LEECH
            self.wait(store.join(peerID, "s", mode, 500.0, {"s": {"B": i}}, 100.0, 0.0))
            self.wait(store.setChunks(peerID, "s", (ChunkRange(0, 9),), 100.0))

    def test_oneRoundTripEach(self) -> None:
        """
        Each store method but C{peers} and C{swarms} (one per page) sends
        one command: its script.
        """
        store = self.connect()
        self.populate(store, 5)
        calls: List[Callable[[], Deferred[Any]]] = [
            lambda: store.peer("p1"),
            lambda: store.lookup("p1", "s", 3, None),
            lambda: store.lookup("p1", "s", 3, 5),
            lambda: store.usage(_IP),
            lambda: store.swarm("s"),
            lambda: store.peers(),
            lambda: store.swarms(),
            lambda: store.counts(),
            lambda: store.register(self.sessionOf("q"), {"A": 1}),
            lambda: store.takeOver(self.sessionOf("q"), "token-q", {None: {"A": 2}}),
            lambda: store.touch("q", 120.0),
            lambda: store.join("q", "s", PeerMode.LEECH, None, {"s": {"C": 1}}, 120.0, 1.0),
            lambda: store.setChunks("q", "s", (ChunkRange(3, 4),), 120.0),
            lambda: store.keepStats("q", {None: {"A": 3}}, 130.0),
            lambda: store.leave("q", "s", 130.0, 2.0),
            lambda: store.disconnect("q", 3.0),
            lambda: store.addSwarm("t", True, 3.0),
            lambda: store.removeSwarm("t", 4.0),
            lambda: store.expire(50.0, 30.0),
            lambda: store.get(("k",), 1, 0.0),
            lambda: store.put(("k",), 1, ErrorResponse("t"), 0.0),
            lambda: store.discard(("k",)),
        ]
        monitor = Monitor(self.server)
        self.addCleanup(monitor.close)
        for i, call in enumerate(calls):
            self.wait(call())
            marker = f"marker-{i}"
            self.wait(store.client.execute("ECHO", marker))
            sent = monitor.sentUntil(marker)
            self.assertEqual(len(sent), 1, (i, sent))
            self.assertIn(sent[0], ("EVALSHA", "GET", "SET", "DEL"))

    def test_scriptsLoadedAgain(self) -> None:
        """
        After the server forgets its scripts (C{SCRIPT FLUSH}, a restart),
        the store's calls load them again and are answered.
        """
        store = self.connect()
        self.wait(store.register(self.sessionOf("p"), {}))
        self.assertEqual(self.command(store, "SCRIPT", "FLUSH"), "OK")
        peer = self.wait(store.peer("p"))
        assert peer is not None
        self.assertEqual(peer.peerID, "p")
        self.assertTrue(self.wait(store.touch("p", 150.0)))

    def test_keysUnderPrefix(self) -> None:
        """
        Every key the store writes starts with its prefix, and the keys of
        one swarm carry its SwarmID as a hash tag.
        """
        store = self.connect(prefix="tracker-a:")
        self.populate(store, 3)
        self.wait(store.put(("k",), 1, ErrorResponse("t"), 0.0))
        keys = self.command(store, "KEYS", "*")
        self.assertTrue(keys)
        for key in keys:
            self.assertTrue(key.startswith("tracker-a:"), key)
        swarmKeys = [k for k in keys if "{" in k]
        self.assertTrue(swarmKeys)
        for key in swarmKeys:
            self.assertTrue(key.startswith("tracker-a:{s}:"), key)

    def test_networkIndex(self) -> None:
        """
        A lookup without a chunk holds the members of the requester's own
        network (its IPv4 /24) besides its draw, in a swarm too large for
        the draw to hold them: the per-network index (C{{S}:n:NETWORK}),
        which follows a session taken over from another network and a
        LEAVE.
        """
        store = self.connect()

        def member(peerID: str, ip: str) -> None:
            session = Session(peerID, "token-" + peerID, ip, 7000, (), None, 0.0, 100.0)
            self.wait(store.register(session, {}))
            self.wait(store.join(peerID, "s", PeerMode.LEECH, None, {}, 100.0, 0.0))

        member("me", "203.0.113.200")
        for i in range(3):
            member(f"near{i}", f"203.0.113.{i + 1}")
        for i in range(100):
            member(f"far{i}", f"198.51.{i}.1")
        for _ in range(5):
            _, view = self.wait(store.lookup("me", "s", 1, None))
            assert view is not None
            self.assertFalse(view.complete)
            near = sorted(m.peerID for m in view if m.peerID.startswith("near"))
            self.assertEqual(near, ["near0", "near1", "near2"])

        def network(key: str) -> List[str]:
            return sorted(self.command(store, "SMEMBERS", "ppsp:{s}:n:4/24/" + key))

        moved = Session("near2", "token-2", "198.51.7.9", 7000, (), None, 0.0, 100.0)
        self.assertTrue(self.wait(store.takeOver(moved, "token-near2", {})))
        self.assertTrue(self.wait(store.leave("near1", "s", 100.0, 1.0)))
        self.assertEqual(network("cb0071"), ["me", "near0"])
        self.assertEqual(network("c63307"), ["far7", "near2"])

    def test_nothingLeft(self) -> None:
        """
        Once every peer has disconnected or expired and the swarms were
        forgotten, the store keeps no key at all.
        """
        store = self.connect()
        self.populate(store, 6)
        self.wait(store.register(self.sessionOf("late", deadline=300.0), {}))
        self.wait(store.join("late", "t", PeerMode.LIVESEED, None, {"t": {"C": 1}}, 300.0, 0.0))
        self.wait(store.setChunks("late", "t", (ChunkRange(0, 2**64 - 1),), 300.0))
        self.wait(store.addSwarm("u", True, 0.0))
        for i in range(3):
            self.assertIsNotNone(self.wait(store.disconnect(f"p{i}", 10.0)))
        self.assertEqual(self.wait(store.removeSwarm("u", 10.0)), 0)
        self.wait(store.expire(101.0, 30.0))
        self.wait(store.disconnect("late", 150.0))
        self.wait(store.expire(1000.0, 30.0))
        self.assertEqual(self.command(store, "DBSIZE"), 0)

    def test_lookupHoldersOfLargeChunkIDs(self) -> None:
        """
        The chunk index finds holders of chunks near the largest chunk ID,
        which a double cannot hold exactly.
        """
        store = self.connect()
        top = 2**64 - 1
        for peerID, ranges in (("a", (ChunkRange(top - 1, top),)), ("b", (ChunkRange(top - 3, top - 2),))):
            self.wait(store.register(self.sessionOf(peerID), {}))
            self.wait(store.join(peerID, "s", PeerMode.LEECH, None, {}, 100.0, 0.0))
            self.wait(store.setChunks(peerID, "s", ranges, 100.0))
        for chunkID, holder in ((top, "a"), (top - 1, "a"), (top - 2, "b"), (top - 3, "b")):
            _, view = self.wait(store.lookup("a", "s", 5, chunkID))
            assert view is not None
            self.assertEqual([m.peerID for m in view.sampleHolders(chunkID, 5)], [holder])
        _, view = self.wait(store.lookup("a", "s", 5, top - 4))
        assert view is not None
        self.assertFalse(view.hasHolders(top - 4))

    def test_identityKept(self) -> None:
        """
        A session's identity, with its certificate digest and expiry, comes
        back as it was given.
        """
        store = self.connect()
        identity = SessionIdentity("p", 1767225600.25, "sha256:ab", b"\x00\xffdigest")
        session = self.sessionOf("p")._replace(identity=identity, statPort=7100)
        self.wait(store.register(session, {}))
        peer = self.wait(store.peer("p"))
        assert peer is not None
        self.assertEqual(peer.session, session)

    def test_reachableWhenDown(self) -> None:
        """
        C{reachable} fires with C{False}, and does not fail, when the
        server is gone.
        """
        store = self.connect()
        self.assertIs(self.wait(store.reachable()), True)
        self.server.stop()
        self.assertIs(self.wait(store.reachable()), False)


class RetryCacheTests(RedisTestCase):
    """
    L{RedisPeerStore} is a retry cache shared by the trackers that share
    it: an answer kept by one is found by another, for the retry window
    only, and only for the same request.
    """

    responses: List[Response] = [
        ErrorResponse("t1", ResponseCode.TEMPORARILY_OVERLOADED, "busy"),
        ConnectResponse("t2", "token", PeerAddress("2001:db8::1", 7000), 90),
        FindResponse(
            "t3",
            "swarm",
            (PeerInfo("p", PeerMode.SEED, (PeerAddress(_IP, 7001, priority=3),)),),
            12,
        ),
        StatReportResponse("t4", ("a", "b")),
    ]

    def test_providesIRetryCache(self) -> None:
        """
        The store provides L{IRetryCache}.
        """
        self.assertTrue(verifyObject(IRetryCache, self.connect()))

    def test_sharedAnswers(self) -> None:
        """
        An answer kept by one store is found, equal, by another store, for
        the same key and fingerprint.
        """
        first, second = self.connect(), self.connect()
        for i, response in enumerate(self.responses):
            key = (_IP, "p", f"t{i}", None)
            self.wait(first.put(key, 77, response, 100.0))
            self.assertEqual(self.wait(second.get(key, 77, 130.0)), response)

    def test_fingerprintAndWindow(self) -> None:
        """
        An answer is not found for another fingerprint, nor once its window
        has ended, nor after C{discard}.
        """
        store = self.connect()
        key = (_IP, "p", "t", b"certificate")
        self.wait(store.put(key, 5, self.responses[0], 100.0))
        self.assertIsNone(self.wait(store.get(key, 6, 101.0)))
        self.assertIsNone(self.wait(store.get(key, 5, 160.0)))
        self.assertIsNone(self.wait(store.get((_IP, "p", "t", None), 5, 101.0)))
        self.wait(store.discard(key))
        self.assertIsNone(self.wait(store.get(key, 5, 101.0)))

    def test_nativeTTL(self) -> None:
        """
        Each kept answer is one key whose TTL is the retry window, so that
        Redis forgets it without a prune.
        """
        store = self.connect()
        self.wait(store.put(("k",), 1, self.responses[0], 0.0))
        keys = self.command(store, "KEYS", "ppsp:r:*")
        self.assertEqual(len(keys), 1)
        ttl = self.command(store, "TTL", keys[0])
        self.assertTrue(55 <= ttl <= 60, ttl)

    def test_refusesOtherClasses(self) -> None:
        """
        An answer read back makes objects of the message classes only: a
        kept value that names another class fails the read.
        """
        store = self.connect()
        for value in (Session("p", "t", _IP, 1, (), None, 0.0, 1.0), PeerInfo("p", PeerMode.SEED, ())):
            key = ("k", repr(value))
            text = base64.b64encode(pickle.dumps(value)).decode("ascii")
            self.command(store, "SET", store._retryKey(key), f"1e9 1 {text}")
            d = store.get(key, 1, 0.0)
            self.reactor.runUntil(store.whenIdle())
            self.failureResultOf(d, pickle.UnpicklingError)

class ConnectionTests(RedisTestCase):
    """
    Stores reach a server by a URL: TCP or a Unix socket, a database, a
    password.
    """

    def test_database(self) -> None:
        """
        The database of the URL is the store's: two stores on one database
        share their state, a store on another does not.
        """
        base = f"redis://127.0.0.1:{self.server.port}"
        one, other = self.connect(base + "/3"), self.connect(base + "/4")
        self.wait(one.register(self.sessionOf("p"), {}))
        self.assertIsNotNone(self.wait(self.connect(base + "/3").peer("p")))
        self.assertIsNone(self.wait(other.peer("p")))

    def test_password(self) -> None:
        """
        A server that asks for a password serves a store whose URL has it,
        and is not reachable for a store whose URL has another.
        """
        server = startRedis(self, ["--requirepass", "s3cret/:@"])
        url = f"redis://:s3cret%2F%3A%40@127.0.0.1:{server.port}/0"
        store = self.connect(url)
        self.assertTrue(self.wait(store.register(self.sessionOf("p"), {})))
        wrong = self.connect(f"redis://:nope@127.0.0.1:{server.port}/0")
        self.assertIs(self.wait(wrong.reachable()), False)

    def test_unixSocket(self) -> None:
        """
        A C{redis+unix://} URL reaches the server's Unix socket and the
        database it names.
        """
        # A short path: a Unix socket's path holds at most 107 bytes, which
        # a trial temporary directory in a deep checkout can exceed.
        directory = tempfile.mkdtemp(prefix="ppsp-redis-")
        self.addCleanup(shutil.rmtree, directory, True)
        path = os.path.join(directory, "redis.sock")
        server = startRedis(self, unixSocket=path)
        store = self.connect(f"redis+unix://{path}?db=2")
        self.wait(store.register(self.sessionOf("p"), {}))
        tcp = self.connect(f"redis://127.0.0.1:{server.port}/2")
        self.assertIsNotNone(self.wait(tcp.peer("p")))


class ParseURLTests(SynchronousTestCase):
    """
    L{parseRedisURL} reads the URLs of Redis servers and never shows a
    password.
    """

    def test_tcp(self) -> None:
        """
        C{redis://} gives a TCP endpoint, port 6379 and database 0 by
        default.
        """
        address = parseRedisURL("redis://cache.example")
        self.assertEqual(
            (address.endpoint, address.db, address.username, address.password),
            ("tcp:host=cache.example:port=6379", 0, None, None),
        )
        address = parseRedisURL("redis://user:pw@[::1]:6380/5")
        self.assertEqual(
            (address.endpoint, address.db, address.username, address.password),
            ("tcp:host=\\:\\:1:port=6380", 5, "user", "pw"),
        )

    def test_unix(self) -> None:
        """
        C{redis+unix://} gives a Unix endpoint, and the database of its
        C{db} query.
        """
        address = parseRedisURL("redis+unix://:pw@/run/redis/redis.sock?db=7")
        self.assertEqual(
            (address.endpoint, address.db, address.password),
            ("unix:path=/run/redis/redis.sock", 7, "pw"),
        )

    def test_passwordHidden(self) -> None:
        """
        Neither the C{repr} of an address nor the error about a URL shows
        its password.
        """
        address = parseRedisURL("redis://:hunter2@localhost/0")
        self.assertNotIn("hunter2", repr(address))
        self.assertNotIn("hunter2", address.display)
        for url in ("redis://:hunter2@localhost/x", "http://:hunter2@localhost/"):
            e = self.assertRaises(ValueError, parseRedisURL, url)
            self.assertNotIn("hunter2", str(e))

    def test_refused(self) -> None:
        """
        A URL of another scheme, without a host or a socket path, or with a
        database that is not a number, is refused.
        """
        for url in (
            "http://localhost/",
            "redis:///0",
            "redis+unix://",
            "redis+unix://relative/path.sock",
            "redis://h/db",
        ):
            self.assertRaises(ValueError, parseRedisURL, url)


