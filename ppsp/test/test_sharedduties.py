"""
Tests for the duties that the trackers sharing one Redis store do once
for all of them (issue 14, part 4), against a real redis-server
(L{ppsp.test.redisserver}): the STAT_QUERY poll lease
(L{IPollLease} of L{RedisPeerStore}), with which two pollers query each
peer once per interval in all; and the admin views of one tracker, which
show the peers registered through another.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, List, Tuple, cast

from treq.client import HTTPClient
from treq.testing import StubTreq
from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from ppsp.interfaces import IPollLease
from ppsp.messages import ConnectRequest, ConnectResponse, JoinRequest, JoinResponse, PeerMode
from ppsp.test.redisserver import TestReactor
from ppsp.test.test_redisstore import RedisTestCase
from ppsp.test.test_statquery import FakePeerStats
from ppsp.tracker.admin import AdminResource
from ppsp.tracker.core import Origin, Tracker
from ppsp.tracker.redisstore import RedisPeerStore
from ppsp.tracker.statquerier import StatQuerier, StatQueryService


def settle(reactor: TestReactor, stores: List[RedisPeerStore]) -> None:
    """
    Turn C{reactor} until no store has a call in flight: each answer makes
    the next call at once, so a store idle right after an answer has
    nothing more to do.
    """
    while True:
        busy = [d for d in (store.whenIdle() for store in stores) if not d.called]
        if not busy:
            return
        for d in busy:
            reactor.runUntil(d)


class PollLeaseTests(RedisTestCase):
    """
    L{RedisPeerStore} provides L{IPollLease}: one lease per peer, held by
    one store at a time, renewed by its holder, with a native TTL.
    """

    def test_provides(self) -> None:
        """
        The store provides L{IPollLease}, and a poller given a tracker on
        it takes its leases from the store.
        """
        store = self.connect()
        self.assertTrue(verifyObject(IPollLease, store))
        querier = StatQuerier(Tracker(Clock(), store=store), cast(HTTPClient, None), Clock())
        self.assertIs(StatQueryService(querier, interval=5).lease, store)

    def test_oneHolder(self) -> None:
        """
        A lease taken by one store is refused to another until its TTL
        (the seconds asked for, as C{PX}) runs out, which the key C{q:ID}
        under the prefix carries; its holder takes it again (renewing
        it); once the key is gone, the other store takes it.
        """
        first, second = self.connect(seed=1), self.connect(seed=2)
        self.assertIs(self.wait(first.acquire("p", 0.0, 30.0)), True)
        self.assertIs(self.wait(second.acquire("p", 0.0, 30.0)), False)
        self.assertIs(self.wait(second.acquire("q", 0.0, 30.0)), True)
        self.assertIs(self.wait(first.acquire("p", 10.0, 30.0)), True)
        ttl = self.command(first, "PTTL", "ppsp:q:p")
        self.assertTrue(29_000 < ttl <= 30_000, ttl)
        self.command(first, "DEL", "ppsp:q:p")
        self.assertIs(self.wait(second.acquire("p", 0.0, 30.0)), True)
        self.assertIs(self.wait(first.acquire("p", 0.0, 30.0)), False)


class TwoPollersTests(RedisTestCase):
    """
    Two trackers on one Redis, each polling with STAT_QUERY: each peer is
    queried once per interval in all, not once per tracker.
    """

    def test_oncePerInterval(self) -> None:
        """
        Four peers with a StatPort, registered through the first tracker;
        both trackers poll every 4 s (a round spans five ticks of 1 s:
        the one that starts it sends nothing).  In each of three rounds
        each peer is queried once in all, where two pollers without the
        lease would query it twice.
        """
        clock = Clock()
        clock.advance(1000.0)
        statPeer = FakePeerStats()
        stores = [self.connect(seed=1), self.connect(seed=2)]
        trackers = [Tracker(clock, store=store) for store in stores]
        for i in range(4):
            d = trackers[0].handle(
                ConnectRequest(f"c{i}", f"p{i}", statPort=9000), Origin(f"198.51.100.{i + 1}", 40001)
            )
            self.assertIsInstance(self.wait(d), ConnectResponse)
        services = []
        for tracker in trackers:
            querier = StatQuerier(tracker, cast(HTTPClient, StubTreq(statPeer)), clock)
            service = StatQueryService(querier, interval=4)
            services.append(service)
        for service in services:
            service.startService()
            self.addCleanup(service.stopService)
        settle(self.reactor, stores)
        rounds = []
        for _ in range(3):
            before = len(statPeer.seen)
            for _ in range(5):
                clock.advance(1)
                settle(self.reactor, stores)
            rounds.append(Counter(seen[4].peerID for seen in statPeer.seen[before:]))
        self.assertEqual(rounds, [Counter({f"p{i}": 1 for i in range(4)})] * 3)


class AdminOfTheWholeTrackerTests(RedisTestCase):
    """
    The admin views of one tracker show the whole logical tracker: what
    the store holds, whichever tracker registered it.
    """

    def request(self, admin: Any, stores: List[RedisPeerStore], method: str, path: str) -> Tuple[int, Any]:
        """
        One request to an admin resource behind C{admin}, turning the
        reactor until the stores have answered: its status and its JSON.
        """
        d = admin.request(method, "http://127.0.0.1:7001" + path)
        answered: List[bool] = []

        def done(result: object) -> object:
            answered.append(True)
            return result

        d.addBoth(done)
        for _ in range(100):
            if answered:
                break
            admin.flush()
            settle(self.reactor, stores)
        else:
            self.fail(f"{method} {path} was not answered")
        response = self.successResultOf(d)
        body = self.successResultOf(admin.content(response))
        return response.code, json.loads(body)

    def test_peerRegisteredElsewhere(self) -> None:
        """
        A peer that CONNECTs and JOINs through the first tracker is shown
        by the second tracker's admin interface: in the totals of C{GET /},
        as C{GET /peers/<PeerID>}, among the swarm's members; and
        C{DELETE /peers/<PeerID>} there ends its session for both.
        """
        clock = Clock()
        clock.advance(1000.0)
        stores = [self.connect(seed=1), self.connect(seed=2)]
        first, second = (Tracker(clock, store=store) for store in stores)
        connected = self.wait(first.handle(ConnectRequest("c", "seed"), Origin("198.51.100.1", 40001)))
        assert isinstance(connected, ConnectResponse), connected
        joined = self.wait(
            first.handle(
                JoinRequest("j", "seed", connected.authToken, swarmID="s", mode=PeerMode.SEED),
                Origin("198.51.100.1", 40001),
            )
        )
        self.assertIsInstance(joined, JoinResponse)
        admin: Any = StubTreq(AdminResource(second))
        code, summary = self.request(admin, stores, "GET", "/")
        self.assertEqual((code, summary["peers"], summary["swarms"]), (200, 1, 1))
        code, peer = self.request(admin, stores, "GET", "/peers/seed")
        self.assertEqual((code, peer["peerID"]), (200, "seed"))
        code, members = self.request(admin, stores, "GET", "/swarms/s/peers")
        self.assertEqual((code, [m["peerID"] for m in members["items"]]), (200, ["seed"]))
        code, _ = self.request(admin, stores, "DELETE", "/peers/seed")
        self.assertEqual(code, 200)
        self.assertIsNone(self.wait(stores[0].peer("seed")))
