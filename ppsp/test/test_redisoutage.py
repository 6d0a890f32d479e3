"""
Tests for L{ppsp.tracker.redisstore} when Redis fails, against a real
redis-server (L{ppsp.test.redisserver}) that a test kills (down) or stops
with C{SIGSTOP} (too slow) while a tracker serves, then starts again on
the same port or lets go on: each call fails with
L{StoreUnavailable<ppsp.interfaces.StoreUnavailable>} at once while the
connection is down and after the store's timeout while the server does
not answer, the tracker answers TEMPORARILY OVERLOADED meanwhile, and
both serve again by themselves once the server is back; a server that
answers it cannot serve now (a replica) refuses without an outage of the
connection; a JOIN whose reply is lost is whole or absent; and
C{--store-timeout} sets the timeout.

The store's timeouts and reconnection delays run on a L{Clock} that the
tests move, and its connection on the tests' reactor, which they turn: a
test says when the bound has passed, and never waits for it.
"""

from __future__ import annotations

from typing import Any, Tuple

from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from ppsp.interfaces import StoreUnavailable
from ppsp.messages import (
    ConnectRequest, ConnectResponse, FindRequest, JoinRequest, KeepAliveRequest,
    PeerMode, Request, Response, ResponseCode,
)
from ppsp.test.redisserver import Monitor
from ppsp.test.test_tap import parse
from ppsp.test.test_redisstore import RedisTestCase
from ppsp.tracker.core import Origin, Tracker
from ppsp.tracker.redisstore import RedisPeerStore, connectRedisStore
from ppsp.tracker.tap import makeService

#: The store's timeout in these tests, in seconds.
TIMEOUT = 0.5

#: More than the longest delay between two attempts to connect.
LONGEST_DELAY = 5.0

_ORIGIN = Origin("192.0.2.1", 40000)


class OutageTestCase(RedisTestCase):
    """
    A tracker on a Redis store whose timeouts and reconnection delays run
    on C{clock}.
    """

    def setUp(self) -> None:
        super().setUp()
        self.clock = Clock()
        self.clock.advance(1000)
        self.store = self.connectOn(self.clock)
        self.tracker = Tracker(self.clock, store=self.store)
        self.wait(self.tracker.ready)
        self.serial = 0

    def connectOn(self, clock: Clock) -> RedisPeerStore:
        """
        A store on the test's server whose timeout is L{TIMEOUT} on
        C{clock}, closed when the test ends.
        """
        store = connectRedisStore(self.reactor, self.server.url, clock=clock, timeout=TIMEOUT)

        def close() -> None:
            closed = store.close()
            clock.advance(TIMEOUT)
            self.reactor.runUntil(closed, "closing the store")

        self.addCleanup(close)
        return store

    def turn(self) -> None:
        """
        Turn the reactor without waiting: what was written is sent, and
        what is due now (a connection aborted) happens.
        """
        for _ in range(3):
            self.reactor.iterate(0)

    def reconnect(self) -> None:
        """
        Let the store connect again: move the clock past the longest delay
        before the next attempt, and turn the reactor until the store is
        connected and logged in.
        """
        self.turn()
        self.clock.advance(LONGEST_DELAY)
        self.reactor.runUntil(self.store.client.whenConnected(), "connecting again")

    def handle(self, cls: type, peerID: str, token: str = "", **fields: Any) -> Response:
        """
        The tracker's answer to a request, turning the reactor until it
        has come.
        """
        self.serial += 1
        request: Request = cls(f"t{self.serial}", peerID, authToken=token or None, **fields)
        return self.wait(self.tracker.handle(request, _ORIGIN))

    def handleAtOnce(self, cls: type, peerID: str, token: str = "", **fields: Any) -> Response:
        """
        The tracker's answer to a request, which must have come without
        the reactor turning or time passing.
        """
        self.serial += 1
        request: Request = cls(f"t{self.serial}", peerID, authToken=token or None, **fields)
        return self.successResultOf(self.tracker.handle(request, _ORIGIN))

    def connectPeer(self, peerID: str) -> str:
        """
        CONNECT C{peerID} and JOIN it to the swarm C{s} as a SEED; its
        AuthToken.
        """
        connected = self.handle(ConnectRequest, peerID)
        assert isinstance(connected, ConnectResponse), connected
        token = connected.authToken
        self.assertOK(self.handle(JoinRequest, peerID, token, swarmID="s", mode=PeerMode.SEED))
        return token

    def assertOK(self, response: Response) -> None:
        """
        C{response} is a success.
        """
        self.assertEqual(response.code, ResponseCode.OK, response)

    def assertOverloaded(self, response: Response) -> None:
        """
        C{response} is TEMPORARILY OVERLOADED.
        """
        self.assertEqual(response.code, ResponseCode.TEMPORARILY_OVERLOADED, response)

    def unavailable(self) -> Tuple[int, int]:
        """
        The requests refused and the outages counted so far.
        """
        counters = self.tracker.counters
        return counters.get("store_unavailable", 0), counters.get("store_outage", 0)


class DownTests(OutageTestCase):
    """
    A server that is gone (killed): the connection is down, the calls
    fail at once, and the store connects again once the server is back.
    """

    def test_requestsFlow(self) -> None:
        """
        While the server is down every request is answered TEMPORARILY
        OVERLOADED at once; started again on the same port, the server
        serves the same tracker after one reconnection delay, without a
        restart (it kept nothing: the peer connects again).
        """
        token = self.connectPeer("p")
        self.server.stop()
        self.assertIs(self.wait(self.store.reachable()), False)
        for cls in (KeepAliveRequest, FindRequest, ConnectRequest):
            fields = {"swarmID": "s"} if cls is FindRequest else {}
            self.assertOverloaded(self.handleAtOnce(cls, "p", token, **fields))
        self.assertIs(self.successResultOf(self.store.reachable()), False)
        self.assertEqual(self.unavailable(), (3, 1))
        self.server.start()
        self.reconnect()
        self.assertIs(self.wait(self.store.reachable()), True)
        token = self.connectPeer("p")
        self.assertOK(self.handle(KeepAliveRequest, "p", token))
        self.assertEqual(self.unavailable(), (3, 1))

    def test_expiryDuringOutage(self) -> None:
        """
        The expiry sweep fails at once while the server is down, counts no
        store error, and sweeps again once it is back.
        """
        self.connectPeer("p")
        self.server.stop()
        self.assertIs(self.wait(self.store.reachable()), False)
        for _ in range(3):
            self.successResultOf(self.tracker.expire())
        self.assertEqual(self.unavailable(), (0, 1))
        self.assertNotIn("store_error", self.tracker.counters)
        self.server.start()
        self.reconnect()
        self.wait(self.tracker.expire())
        self.assertIsNone(self.tracker.storeOutage.since)

    def test_downAtStart(self) -> None:
        """
        A store whose server cannot be reached at its first attempt fails
        the calls waiting for it once the attempt has failed, and every
        call after, at once.
        """
        self.server.stop()
        store = self.connectOn(self.clock)
        d = store.counts()
        self.reactor.runUntil(d)
        self.failureResultOf(d, StoreUnavailable)
        self.failureResultOf(store.peer("p"), StoreUnavailable)


class SlowTests(OutageTestCase):
    """
    A server that does not answer (stopped with C{SIGSTOP}): each call
    fails after the timeout, the connection is dropped, and the calls that
    follow fail at once until the server answers again.
    """

    def test_requestsFlow(self) -> None:
        """
        A request waiting on the stopped server is answered TEMPORARILY
        OVERLOADED once the timeout has passed, not before; the requests
        that follow are answered at once; an attempt to connect again that
        the stopped server accepts fails after the timeout too; once the
        server goes on, the tracker serves the peer it had, unchanged.
        The client logs each reason once, the tracker the outage once
        when it begins and once when it ends.
        """
        token = self.connectPeer("p")
        with capturedLogs() as events:
            self.server.pause()
            d = self.tracker.handle(KeepAliveRequest("k", "p", token), _ORIGIN)
            self.turn()
            self.clock.advance(TIMEOUT * 0.9)
            self.assertNoResult(d)
            self.clock.advance(TIMEOUT * 0.1)
            self.assertOverloaded(self.successResultOf(d))
            self.turn()
            for _ in range(3):
                self.assertOverloaded(self.handleAtOnce(KeepAliveRequest, "p", token))
            self.clock.advance(LONGEST_DELAY)
            self.turn()
            self.assertOverloaded(self.handleAtOnce(KeepAliveRequest, "p", token))
            self.clock.advance(TIMEOUT)
            self.turn()
            self.assertOverloaded(self.handleAtOnce(KeepAliveRequest, "p", token))
            self.server.resume()
            self.reconnect()
            self.assertOK(self.handle(KeepAliveRequest, "p", token))
            found = self.handle(FindRequest, "p", token, swarmID="s")
        self.assertOK(found)
        self.assertEqual(self.unavailable(), (6, 1))
        self.assertIsNone(self.tracker.storeOutage.since)
        texts = [formatEvent(e) for e in events if e["log_level"] >= LogLevel.info]
        client = [t for t in texts if t.startswith("Redis at")]
        self.assertEqual(len(client), 2, texts)
        self.assertIn(f"did not answer within {TIMEOUT:g} s;", client[0])
        self.assertIn(f"did not answer within {TIMEOUT:g} s while logging in", client[1])
        outage = [t for t in texts if "the store" in t]
        self.assertEqual(len(outage), 2, texts)
        self.assertIn("6 request(s)", outage[1])

    def test_reachable(self) -> None:
        """
        C{reachable} fires with C{False} once the timeout has passed
        without the stopped server's answer.
        """
        self.server.pause()
        d = self.store.reachable()
        self.turn()
        self.assertNoResult(d)
        self.clock.advance(TIMEOUT)
        self.assertIs(self.successResultOf(d), False)

    def test_close(self) -> None:
        """
        Closing the store while a call waits on the stopped server ends
        once the call has failed, after the timeout.
        """
        self.server.pause()
        call = self.store.peer("p")
        self.turn()
        closed = self.store.close()
        self.assertNoResult(closed)
        self.clock.advance(TIMEOUT)
        self.failureResultOf(call, StoreUnavailable)
        self.reactor.runUntil(closed, "closing the store")


class NotNowTests(OutageTestCase):
    """
    A server that answers that it cannot serve now, having changed
    nothing, makes the call fail with L{StoreUnavailable}, without
    dropping the connection.
    """

    def test_replica(self) -> None:
        """
        While the server is a replica (C{READONLY} to every write), a
        CONNECT gets TEMPORARILY OVERLOADED and registers nothing; once it
        is a master again, the same connection serves the CONNECT.
        """
        self.assertEqual(self.command(self.store, "REPLICAOF", "127.0.0.1", "1"), "OK")
        self.assertOverloaded(self.handle(ConnectRequest, "p"))
        self.assertIsNone(self.wait(self.store.peer("p")))
        self.assertEqual(self.unavailable(), (1, 1))
        self.assertEqual(self.command(self.store, "REPLICAOF", "NO", "ONE"), "OK")
        self.assertOK(self.handle(ConnectRequest, "p"))
        self.assertIsNone(self.tracker.storeOutage.since)


class LostReplyTests(OutageTestCase):
    """
    A JOIN whose reply does not come within the timeout fails with
    L{StoreUnavailable} and is then whole or absent: the script is atomic.
    """

    def assertWholeOrAbsent(self) -> bool:
        """
        The membership of C{p} in C{s} is whole (its record, the swarm
        with one member, one SEED, in the view) or absent (none of them).

        @return: whether it is whole.
        """
        peer = self.wait(self.store.peer("p"))
        assert peer is not None
        swarm = self.wait(self.store.swarm("s"))
        _, view = self.wait(self.store.lookup("q", "s", 5, None))
        if "s" not in peer.swarms:
            self.assertTrue(swarm is None or swarm.size == 0, swarm)
            self.assertTrue(view is None or len(view) == 0)
            return False
        self.assertEqual(peer.swarms["s"].mode, PeerMode.SEED)
        assert swarm is not None and view is not None
        self.assertEqual((swarm.size, dict(swarm.modes)), (1, {PeerMode.SEED: 1}))
        self.assertEqual([m.peerID for m in view.modeMembers(PeerMode.SEED)], ["p"])
        return True

    def register(self) -> None:
        session = self.sessionOf("p", deadline=2000.0)
        self.assertTrue(self.wait(self.store.register(session, {})))

    def join(self) -> Any:
        return self.store.join("p", "s", PeerMode.SEED, None, {}, 2000.0, 1000.0)

    def test_appliedReplyLost(self) -> None:
        """
        A JOIN that the server applied, but whose reply the store did not
        read within the timeout, fails with L{StoreUnavailable} and is
        whole afterwards; applied again, it changes nothing more.
        """
        self.register()
        monitor = Monitor(self.server)
        self.addCleanup(monitor.close)
        d = self.join()
        self.reactor.iterate(0)
        monitor.sentUntil("EVALSHA")
        self.clock.advance(TIMEOUT)
        self.failureResultOf(d, StoreUnavailable)
        self.reconnect()
        self.assertTrue(self.assertWholeOrAbsent())
        held = self.wait(self.store.peer("p"))
        self.assertTrue(self.wait(self.join()))
        self.assertTrue(self.assertWholeOrAbsent())
        self.assertEqual(self.wait(self.store.peer("p")), held)

    def test_stoppedServer(self) -> None:
        """
        A JOIN sent to a stopped server, whose connection the store drops
        after the timeout, is whole or absent once the server goes on;
        applied again, it is whole.
        """
        self.register()
        self.server.pause()
        d = self.join()
        self.turn()
        self.clock.advance(TIMEOUT)
        self.failureResultOf(d, StoreUnavailable)
        self.server.resume()
        self.reconnect()
        self.assertWholeOrAbsent()
        self.assertTrue(self.wait(self.join()))
        self.assertTrue(self.assertWholeOrAbsent())


class OptionTests(SynchronousTestCase):
    """
    C{twistd ppsp-tracker --store-timeout} is the Redis store's timeout.
    """

    def test_storeTimeout(self) -> None:
        """
        The store C{makeService} builds has the timeout of
        C{--store-timeout}, 1 s by default; a timeout that is not more
        than 0 is a usage error.
        """
        url = "redis://127.0.0.1:6390/0"
        for argv, timeout in (((), 1.0), (("--store-timeout", "0.25"), 0.25)):
            service: Any = makeService(parse("--store", url, *argv), MemoryReactorClock())
            store = service.tracker.store
            assert isinstance(store, RedisPeerStore)
            self.assertEqual(store.client.timeout, timeout)
        for text in ("0", "-1", "soon"):
            self.assertRaises(UsageError, parse, "--store", url, "--store-timeout", text)
