"""
Tests for the state file (L{ppsp.tracker.state}, C{--state}): what a
restart keeps, what it drops, which files it refuses, how the file is
written, and the tracker as a real twistd process restarted with it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import sys
from typing import Any, Collection, Dict, List, Optional, Sequence, TypeVar, cast

from treq.client import HTTPClient
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import capturedLogs
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.http_headers import Headers

from ppsp.codec import XML_CODEC
from ppsp.messages import (
    ChunkRange,
    ConnectRequest,
    ConnectResponse,
    ErrorResponse,
    FindChunkRequest,
    FindRequest,
    JoinChunkRequest,
    JoinRequest,
    KeepAliveRequest,
    LeaveRequest,
    PeerAddress,
    PeerMode,
    Request,
    ResponseCode,
    Stat,
    StatReportRequest,
)
from ppsp.test.copyingstore import CopyingPeerStore
from ppsp.test.helpers import TrackerHarness
from ppsp.test.test_deploy import watch
from ppsp.test.test_twistd import BIN, TrackerProcess, spawn
from ppsp.tracker.credentials import Revocations, SessionIdentity, TokenPeerChecker, issueToken
from ppsp.tracker.core import Origin, Tracker, TrackerConfig
from ppsp.tracker.state import (
    FORMAT,
    StateError,
    StateFile,
    StateLoaded,
    StateService,
    dumpState,
    loadAtStart,
    loadState,
)
from ppsp.tracker.store import MemoryPeerStore
from ppsp.tracker.values import PeerState, SwarmState
from ppsp.tracker.tap import Options, makeService

reactor: Any = _reactor
T = TypeVar("T")
SECRET = b"s" * 32
CERTIFICATE = b"DER bytes of a client certificate"


class _SwarmsBeforeJoin(MemoryPeerStore):
    """
    A store that answers its swarms as if read before its peers joined
    them: none.
    """

    def swarms(self) -> "Deferred[Sequence[SwarmState]]":
        return succeed([])


def settled(testCase: SynchronousTestCase, clock: Clock, d: "Deferred[T]") -> T:
    """
    The result of C{d} once a store that answers on later turns of
    C{clock} has given every answer it owes.
    """
    for _ in range(10000):
        if not clock.getDelayedCalls():
            break
        clock.advance(0)
    return testCase.successResultOf(d)


def freshTracker(clock: Clock, **config: Any) -> Tracker:
    """
    An empty tracker on C{clock}, to load a state into.
    """
    return Tracker(clock, TrackerConfig(**config), store=MemoryPeerStore(random.Random(5)))


class Populated:
    """
    A tracker on a L{Clock} with a state that uses every part of the
    format: open sessions, a session bound to a TLS client certificate, a
    session opened with a credential that expires, announced addresses, a
    StatPort, peer and swarm statistics, chunk sets, memberships with and
    without ExpireTime in every mode, a provisioned swarm, an empty swarm,
    a ban and a revocation made through the admin API.
    """

    def __init__(self, testCase: SynchronousTestCase) -> None:
        harness = self.harness = TrackerHarness(testCase)
        self.clock = harness.clock
        self.tracker = tracker = harness.tracker
        now = self.clock.seconds()
        harness.result(tracker.provisionSwarm("provisioned"))
        harness.connect(
            "seed",
            "198.51.100.1",
            addresses=(PeerAddress("198.51.100.1", 7000, priority=1),),
            statPort=9000,
            stats=(Stat("UploadBandwidth", "5000"), Stat("AbilityNAT", "STUN")),
        )
        harness.ok(JoinRequest, "seed", swarmID="live", mode=PeerMode.SEED)
        harness.ok(JoinChunkRequest, "seed", swarmID="live", chunks=(ChunkRange(0, 99), ChunkRange(200, 300)))
        harness.ok(JoinRequest, "seed", swarmID="provisioned", mode=PeerMode.LIVESEED, expireTime=500.0)
        harness.ok(StatReportRequest, "seed", stats=(Stat("DownloadedBytes", "123", "live"), Stat("Custom", "x y")))
        harness.connect("leech", "203.0.113.9", port=41000)
        harness.ok(JoinRequest, "leech", swarmID="live")
        harness.ok(JoinChunkRequest, "leech", swarmID="live", chunks=(ChunkRange(5, 5),))
        # A session bound to a TLS client certificate.
        origin = Origin("192.0.2.44", 42000, CERTIFICATE)
        answer = harness.send(ConnectRequest("c-tls", "tls-peer"), origin)
        assert isinstance(answer, ConnectResponse)
        harness.tokens["tls-peer"] = answer.authToken
        harness.origins["tls-peer"] = origin
        harness.ok(JoinRequest, "tls-peer", swarmID="live")
        # A swarm left empty.
        harness.connect("leaver", "198.51.100.77")
        harness.ok(JoinRequest, "leaver", swarmID="emptied")
        harness.ok(LeaveRequest, "leaver", swarmID="emptied")
        # What the admin API does.
        tracker.bans.ban("192.0.2.128/25", 3600)
        tracker.bans.ban("2001:db8::/32")
        harness.result(tracker.revoke(["mallory"], ["sha256:" + "ab" * 32]))
        self.madeAt = now


def credentialTracker(clock: Clock) -> Tracker:
    """
    A tracker of the C{token} scheme on C{clock}.
    """
    return Tracker(
        clock,
        TrackerConfig(),
        store=MemoryPeerStore(random.Random(5)),
        checker=TokenPeerChecker(SECRET, clock),
    )


def ask(testCase: SynchronousTestCase, tracker: Tracker, request: Request, origin: Origin) -> Any:
    return testCase.successResultOf(tracker.handle(request, origin))


def dump(
    testCase: SynchronousTestCase,
    tracker: Tracker,
    fileSwarms: Collection[str] = (),
    fileRevocations: Optional[Revocations] = None,
) -> bytes:
    """
    The state file of C{tracker} (L{dumpState}, which has answered already
    with the memory store).
    """
    return testCase.successResultOf(dumpState(tracker, fileSwarms, fileRevocations))


def load(testCase: SynchronousTestCase, tracker: Tracker, data: bytes) -> StateLoaded:
    """
    Load C{data} into C{tracker} (L{loadState}, which has answered already
    with the memory store).
    """
    return testCase.successResultOf(loadState(tracker, data))


def peer(testCase: SynchronousTestCase, tracker: Tracker, peerID: str) -> Optional[PeerState]:
    return testCase.successResultOf(tracker.store.peer(peerID))


def swarm(testCase: SynchronousTestCase, tracker: Tracker, swarmID: str) -> Optional[SwarmState]:
    return testCase.successResultOf(tracker.store.swarm(swarmID))


class RoundTripTests(SynchronousTestCase):
    """
    What L{dumpState} writes, L{loadState} restores exactly.
    """

    def test_identical(self) -> None:
        """
        A tracker loaded from the state of another on the same clock
        writes the same state again, byte for byte: every session with its
        token, addresses, StatPort, times, statistics and identity, every
        membership with its mode, ExpireTime, chunks and statistics, every
        swarm (the empty one too, with when it became empty), the API's
        bans and revocations.
        """
        populated = Populated(self)
        data = dump(self, populated.tracker)
        restored = freshTracker(populated.clock)
        loaded = load(self, restored, data)
        self.assertEqual(dump(self, restored), data)
        self.assertEqual(
            (loaded.peers, loaded.members, loaded.swarms, loaded.droppedPeers),
            (4, 4, 3, 0),
        )

    def test_laterStore(self) -> None:
        """
        The state goes through the store's interface only: restored into a
        store that copies every value and answers on a later turn of the
        clock (L{CopyingPeerStore}, as a store in another process would),
        and written from it, it is the same, byte for byte.
        """
        populated = Populated(self)
        data = dump(self, populated.tracker)
        clock = populated.clock
        store = CopyingPeerStore(MemoryPeerStore(random.Random(5)), clock, random.Random(6))
        restored = Tracker(clock, TrackerConfig(), store=store)
        loaded = settled(self, clock, loadState(restored, data))
        self.assertEqual((loaded.peers, loaded.members, loaded.swarms), (4, 4, 3))
        self.assertEqual(settled(self, clock, dumpState(restored)), data)

    def test_swarmReadLate(self) -> None:
        """
        A membership of a swarm that the store's list of swarms did not
        hold (a store whose two reads are not one snapshot: the peer
        joined in between) is written with a record of its swarm, so
        that the file stays valid and restores the membership.
        """
        clock = Clock()
        tracker = Tracker(clock, TrackerConfig(), store=_SwarmsBeforeJoin(random.Random(5)))
        origin = Origin("198.51.100.1", 40000)
        answer = ask(self, tracker, ConnectRequest("c", "p"), origin)
        ask(self, tracker, JoinRequest("j", "p", answer.authToken, swarmID="s"), origin)
        data = dump(self, tracker)
        self.assertIn(b'{"swarm":"s","provisioned":false,"emptySince":null}\n{"peer":"p"', data)
        restored = freshTracker(clock)
        self.assertEqual(load(self, restored, data).members, 1)
        self.assertEqual(list(cast(PeerState, peer(self, restored, "p")).swarms), ["s"])

    def test_sessionsThere(self) -> None:
        """
        A state is restored only into a tracker without sessions: into one
        that has some it fails with L{ValueError} and applies nothing.
        """
        populated = Populated(self)
        data = dump(self, populated.tracker)
        self.failureResultOf(loadState(populated.tracker, data), ValueError)
        self.assertEqual(dump(self, populated.tracker), data)

    def test_accounts(self) -> None:
        """
        The store's accounts (what each peer and each address holds, the
        expiry entries) are those of the state built by requests.
        """
        populated = Populated(self)
        old = populated.harness.store
        restored = freshTracker(populated.clock)
        load(self, restored, dump(self, populated.tracker))
        new = cast(MemoryPeerStore, restored.store)
        for state in self.successResultOf(old.peers()):
            again = peer(self, restored, state.peerID)
            assert again is not None
            self.assertEqual((again.held, again.addressHeld), (state.held, state.addressHeld))
            self.assertEqual(
                self.successResultOf(new.usage(state.observedIP)),
                self.successResultOf(old.usage(state.observedIP)),
            )
        self.assertEqual(new.scheduledCount(), old.scheduledCount())

    def test_sessionsGoOn(self) -> None:
        """
        After the load, a session's AuthToken works (and a wrong one does
        not), the peer lists name the members with their modes, FIND_CHUNK
        finds the holders of a chunk, a FIND constraint reads the restored
        statistics, and a session bound to a TLS client certificate stays
        bound to it.
        """
        populated = Populated(self)
        tokens = populated.harness.tokens
        restored = freshTracker(populated.clock)
        load(self, restored, dump(self, populated.tracker))
        leech = Origin("203.0.113.9", 41000)
        answer = ask(self, restored, KeepAliveRequest("k1", "leech", tokens["leech"]), leech)
        self.assertNotIsInstance(answer, ErrorResponse)
        answer = ask(self, restored, KeepAliveRequest("k2", "leech", tokens["seed"]), leech)
        self.assertEqual(answer.code, ResponseCode.MESSAGE_FORBIDDEN)
        answer = ask(self, restored, FindRequest("f1", "leech", tokens["leech"], swarmID="live"), leech)
        self.assertEqual(
            sorted((p.peerID, p.mode) for p in answer.peers),
            [("seed", PeerMode.SEED), ("tls-peer", PeerMode.LEECH)],
        )
        answer = ask(
            self, restored, FindChunkRequest("f2", "leech", tokens["leech"], swarmID="live", chunkID=250), leech
        )
        self.assertEqual([p.peerID for p in answer.peers], ["seed"])
        answer = ask(
            self,
            restored,
            FindRequest("f3", "leech", tokens["leech"], swarmID="live", constraints=(Stat("UploadBandwidth", "4000"),)),
            leech,
        )
        self.assertEqual([p.peerID for p in answer.peers], ["seed"])
        answer = ask(
            self, restored, KeepAliveRequest("k3", "tls-peer", tokens["tls-peer"]), Origin("192.0.2.44", 42000)
        )
        self.assertEqual(answer.code, ResponseCode.MESSAGE_FORBIDDEN)
        answer = ask(
            self,
            restored,
            KeepAliveRequest("k4", "tls-peer", tokens["tls-peer"]),
            Origin("192.0.2.44", 42000, CERTIFICATE),
        )
        self.assertNotIsInstance(answer, ErrorResponse)

    def test_operatorState(self) -> None:
        """
        A swarm provisioned at run time stays provisioned; the bans and
        revocations made through the admin API are in force again (a ban
        until the time it had); the empty swarm is forgotten when its
        empty-swarm lifetime, counted from when it became empty, ends.
        """
        populated = Populated(self)
        clock = populated.clock
        restored = freshTracker(clock)
        load(self, restored, dump(self, populated.tracker))
        self.assertIn("provisioned", restored.provisionedSwarms)
        provisioned = swarm(self, restored, "provisioned")
        assert provisioned is not None
        self.assertTrue(provisioned.provisioned)
        self.assertEqual(
            [(str(b.network), b.until, b.source) for b in restored.bans.entries()],
            [(str(b.network), b.until, b.source) for b in populated.tracker.bans.entries()],
        )
        self.assertEqual(restored.revocations, populated.tracker.revocations)
        emptied = swarm(self, restored, "emptied")
        original = swarm(self, populated.tracker, "emptied")
        assert emptied is not None and original is not None
        emptySince = emptied.emptySince
        assert emptySince is not None
        self.assertEqual(emptySince, original.emptySince)
        clock.advance(emptySince + 300 - clock.seconds() - 1)
        self.successResultOf(restored.expire())
        self.assertIsNotNone(swarm(self, restored, "emptied"))
        clock.advance(1)
        self.successResultOf(restored.expire())
        self.assertIsNone(swarm(self, restored, "emptied"))

    def test_credentialIdentity(self) -> None:
        """
        A session opened with a credential keeps its identity: its bound
        PeerID, its credential's expiry and fingerprint; the session still
        ends when the credential expires, and a revocation of the
        credential's fingerprint ends it.
        """
        clock = Clock()
        clock.advance(1_000_000)
        tracker = credentialTracker(clock)
        credential = issueToken(SECRET, "bound", int(clock.seconds()) + 100)
        origin = Origin("198.51.100.3", 40000)
        answer = ask(self, tracker, ConnectRequest("c1", "bound", cer=credential), origin)
        self.assertIsInstance(answer, ConnectResponse)
        bound = peer(self, tracker, "bound")
        assert bound is not None
        identity = bound.identity
        assert isinstance(identity, SessionIdentity) and identity.fingerprint is not None
        self.assertEqual(identity.peerID, "bound")
        restored = credentialTracker(clock)
        load(self, restored, dump(self, tracker))
        again = peer(self, restored, "bound")
        assert again is not None
        self.assertEqual(again.identity, identity)
        clock.advance(99)
        answer = ask(self, restored, KeepAliveRequest("k1", "bound", answer.authToken), origin)
        self.assertNotIsInstance(answer, ErrorResponse)
        clock.advance(1)
        self.successResultOf(restored.expire())
        self.assertIsNone(peer(self, restored, "bound"))
        other = credentialTracker(clock)
        other.revocations = Revocations(fingerprints=[identity.fingerprint])
        clock.advance(-100)
        loaded = load(self, other, dump(self, tracker))
        self.assertEqual((loaded.peers, loaded.droppedPeers), (0, 1))
        self.assertIsNone(peer(self, other, "bound"))


class ExpiryAtLoadTests(SynchronousTestCase):
    """
    Whatever expired while the tracker was down is dropped at load,
    measured on the clock at load.
    """

    def test_dropped(self) -> None:
        """
        A session past its liveness deadline is dropped with its
        memberships; a membership past its ExpireTime is dropped and its
        session kept; a swarm whose last member left more than the
        empty-swarm lifetime ago is forgotten, a provisioned one is not.
        """
        harness = TrackerHarness(self)
        tracker, clock = harness.tracker, harness.clock
        harness.result(tracker.provisionSwarm("kept-empty"))
        harness.connect("quiet", "198.51.100.1")
        harness.ok(JoinRequest, "quiet", swarmID="only-quiet")
        harness.ok(JoinRequest, "quiet", swarmID="kept-empty")
        clock.advance(100)
        harness.connect("busy", "198.51.100.2")
        harness.ok(JoinRequest, "busy", swarmID="short", expireTime=50.0)
        harness.ok(JoinRequest, "busy", swarmID="long")
        data = dump(self, tracker)
        # "quiet" expires at +180 from its CONNECT, "busy" at +280; the
        # membership of "short" ends at +150.
        clock.advance(150)
        restored = freshTracker(clock)
        loaded = load(self, restored, data)
        self.assertIsNone(peer(self, restored, "quiet"))
        busy = peer(self, restored, "busy")
        assert busy is not None
        self.assertEqual(sorted(busy.swarms), ["long"])
        self.assertIsNotNone(swarm(self, restored, "kept-empty"))
        # "only-quiet" emptied when "quiet" expired (+180), 70 s ago:
        # kept until +480.
        self.assertEqual(
            [cast(SwarmState, swarm(self, restored, swarmID)).emptySince for swarmID in ("only-quiet", "short")],
            [1000 + 180, 1000 + 150],
        )
        self.assertEqual(
            (loaded.peers, loaded.droppedPeers, loaded.members, loaded.droppedMembers),
            (1, 1, 1, 3),
        )
        clock.advance(1000)
        restored2 = freshTracker(clock)
        loaded = load(self, restored2, data)
        self.assertEqual(self.successResultOf(restored2.store.counts()), (0, 1))
        swarms = self.successResultOf(restored2.store.swarms())
        self.assertEqual(sorted(s.swarmID for s in swarms), ["kept-empty"])
        self.assertEqual(loaded.droppedSwarms, 3)

    def test_swarmsFile(self) -> None:
        """
        A swarm that the swarms file provisioned is written as not
        provisioned: at load it is provisioned if the file (read again at
        start) still lists it, and dropped with its memberships (their
        sessions go on) when only provisioned swarms exist and the file no
        longer lists it.
        """
        harness = TrackerHarness(self, provisionedSwarms=frozenset({"a", "b"}))
        harness.connect("p", "198.51.100.1")
        harness.ok(JoinRequest, "p", swarmID="a")
        harness.ok(JoinRequest, "p", swarmID="b")
        data = dump(self, harness.tracker, fileSwarms={"a", "b"})
        records = [json.loads(line) for line in data.splitlines()]
        self.assertEqual([r["provisioned"] for r in records if "swarm" in r], [False, False])
        restored = freshTracker(harness.clock, provisionedSwarms=frozenset({"a"}))
        loaded = load(self, restored, data)
        restoredPeer = peer(self, restored, "p")
        assert restoredPeer is not None
        self.assertEqual(sorted(restoredPeer.swarms), ["a"])
        self.assertIsNone(swarm(self, restored, "b"))
        self.assertEqual((loaded.droppedSwarms, loaded.droppedMembers), (1, 1))

    def test_revocationFile(self) -> None:
        """
        What the revocation file revokes is not written (the file is read
        again at start); what the API revoked is.
        """
        harness = TrackerHarness(self)
        fromFile = Revocations(["in-file"])
        harness.result(harness.tracker.setRevocations(fromFile | Revocations(["by-api"])))
        data = dump(self, harness.tracker, fileRevocations=fromFile)
        self.assertIn(b'{"revoked":"peer:by-api"}', data)
        self.assertNotIn(b"in-file", data)


def damaged(data: bytes) -> Dict[str, bytes]:
    """
    Ways a state file C{data} can be cut or damaged.
    """
    lines = data.splitlines(keepends=True)
    return {
        "empty": b"",
        "cut mid-line": data[: len(data) // 2],
        "cut before the end record": b"".join(lines[:-1]),
        "cut after the header": lines[0],
        "last line feed missing": data[:-1],
        "a line missing": b"".join(lines[:2] + lines[3:]),
        "a byte changed": data.replace(b'"token":"', b'"token":"x', 1),
        "foreign JSON": b'{"format":"something-else","version":1}\n',
        "not JSON": b"hello\n",
        "binary": bytes(range(256)),
        "future version": data.replace(b'"version":1', b'"version":2', 1),
    }


class RefusedTests(SynchronousTestCase):
    """
    A state file that is cut short, damaged or foreign is refused, never
    taken as empty, and changes nothing.
    """

    def test_refused(self) -> None:
        """
        Every damaged form raises L{StateError} with a one-line reason, and
        leaves the tracker without any session.
        """
        populated = Populated(self)
        data = dump(self, populated.tracker)
        for name, bad in damaged(data).items():
            restored = freshTracker(populated.clock)
            error = self.failureResultOf(loadState(restored, bad), StateError).value
            self.assertNotIn("\n", str(error), name)
            self.assertEqual(self.successResultOf(restored.store.counts())[0], 0, name)

    def test_reasons(self) -> None:
        """
        The reason says what is wrong.
        """
        data = dump(self, Populated(self).tracker)
        cases = damaged(data)
        expected = {
            "empty": "the file is empty",
            "cut mid-line": "cut short",
            "cut before the end record": "cut short",
            "a line missing": "checksum does not match",
            "foreign JSON": "not a ppsp tracker state file",
            "future version": "version 2 is not supported (this tracker reads version 1)",
        }
        for name, fragment in expected.items():
            error = self.failureResultOf(loadState(freshTracker(Clock()), cases[name]), StateError).value
            self.assertIn(fragment, str(error), name)

    def test_badRecord(self) -> None:
        """
        A record that is not valid, in a file whose checksum matches (one
        written by hand), is refused with its line number.
        """
        header = json.dumps({"format": FORMAT, "version": 1, "written": 0})
        record = json.dumps({"peer": "p", "token": "t", "ip": "192.0.2.1", "port": 99999, "connectedAt": 0, "deadline": 1})
        body = f"{header}\n{record}\n".encode()
        end = json.dumps(
            {"end": True, "peers": 1, "swarms": 0, "bans": 0, "revoked": 0, "sha256": hashlib.sha256(body).hexdigest()}
        )
        error = self.failureResultOf(loadState(freshTracker(Clock()), body + end.encode() + b"\n"), StateError).value
        self.assertEqual(str(error), "line 2: port must be a whole number from 0 to 65535")


class StateFileTests(SynchronousTestCase):
    """
    L{StateFile}: atomic writes, mode 0600, reading and loading.
    """

    def setUp(self) -> None:
        self.directory = FilePath(self.mktemp())
        self.directory.makedirs()
        self.path = self.directory.child("state.jsonl").path

    def test_mode(self) -> None:
        """
        The file is created with mode 0600 even under a umask of 0, and
        replaces an existing file of a wider mode.
        """
        old = os.umask(0)
        self.addCleanup(os.umask, old)
        StateFile(self.path).write(b"one\n")
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600)
        os.chmod(self.path, 0o644)
        StateFile(self.path).write(b"two\n")
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600)
        self.assertEqual(FilePath(self.path).getContent(), b"two\n")

    def test_failedWrite(self) -> None:
        """
        A write that fails (here, the disk refuses to flush) raises, leaves
        the old file as it was and no temporary file behind.
        """
        stateFile = StateFile(self.path)
        stateFile.write(b"old\n")

        def fsync(fd: int) -> None:
            raise OSError(5, "Input/output error")

        self.patch(os, "fsync", fsync)
        with self.assertRaises(OSError):
            stateFile.write(b"new\n")
        self.assertEqual(FilePath(self.path).getContent(), b"old\n")
        self.assertEqual(os.listdir(self.directory.path), ["state.jsonl"])

    def test_missing(self) -> None:
        """
        A file that does not exist reads as L{None} and loads nothing.
        """
        stateFile = StateFile(self.path)
        self.assertIsNone(stateFile.read())
        self.assertIsNone(self.successResultOf(stateFile.load(freshTracker(Clock()))))

    def test_loadNamesTheFile(self) -> None:
        """
        A file that cannot be used is refused with its path in the reason;
        so is one that cannot be read (a directory).
        """
        FilePath(self.path).setContent(b"")
        error = self.failureResultOf(StateFile(self.path).load(freshTracker(Clock())), StateError).value
        self.assertEqual(str(error), f"cannot use the state file {self.path}: the file is empty")
        error = self.failureResultOf(
            StateFile(self.directory.path).load(freshTracker(Clock())), StateError
        ).value
        self.assertIn(f"cannot read the state file {self.directory.path}: ", str(error))

    def test_loadAtStart(self) -> None:
        """
        At start, a file that cannot be used writes one line naming it to
        standard error and exits with status 1; a missing file is a fresh
        start, logged; a good one is loaded and logged.
        """
        FilePath(self.path).setContent(b"\x00\x01")
        stderr = io.StringIO()
        with self.assertRaises(SystemExit) as raised:
            loadAtStart(freshTracker(Clock()), StateFile(self.path), stderr)
        self.assertEqual(raised.exception.code, 1)
        lines = stderr.getvalue().splitlines()
        self.assertEqual(len(lines), 1)
        self.assertIn(self.path, lines[0])
        FilePath(self.path).remove()
        with capturedLogs() as events:
            self.assertIsNone(self.successResultOf(loadAtStart(freshTracker(Clock()), StateFile(self.path))))
        self.assertIn("does not exist: starting with no state", events[0]["log_format"])
        populated = Populated(self)
        StateFile(self.path).write(dump(self, populated.tracker))
        with capturedLogs() as events:
            loaded = self.successResultOf(loadAtStart(freshTracker(populated.clock), StateFile(self.path)))
        assert loaded is not None
        self.assertEqual(loaded.peers, 4)
        self.assertEqual(events[0]["peers"], 4)


class StateServiceTests(SynchronousTestCase):
    """
    L{StateService} writes the state every interval and at stop.
    """

    def setUp(self) -> None:
        directory = FilePath(self.mktemp())
        directory.makedirs()
        self.path = directory.child("state.jsonl").path
        self.harness = TrackerHarness(self)

    def written(self) -> Optional[List[str]]:
        data = StateFile(self.path).read()
        if data is None:
            return None
        return [json.loads(line)["peer"] for line in data.splitlines() if b'"peer"' in line]

    def test_periodic(self) -> None:
        """
        Every C{interval} seconds the file is written again with the state
        of that moment; stopping writes it once more.
        """
        service = StateService(self.harness.tracker, StateFile(self.path), 60)
        service.startService()
        self.harness.connect("a")
        self.harness.clock.advance(59)
        self.assertIsNone(self.written())
        self.harness.clock.advance(1)
        self.assertEqual(self.written(), ["a"])
        self.harness.connect("b")
        self.harness.clock.advance(60)
        self.assertEqual(self.written(), ["a", "b"])
        self.harness.connect("c")
        stopped = service.stopService()
        assert stopped is not None
        self.assertTrue(self.successResultOf(stopped))
        self.assertEqual(self.written(), ["a", "b", "c"])
        self.harness.clock.advance(600)
        self.assertEqual(self.harness.clock.getDelayedCalls(), [])

    def test_onlyAtStop(self) -> None:
        """
        With an interval of 0 the file is written at stop only.
        """
        service = StateService(self.harness.tracker, StateFile(self.path), 0)
        service.startService()
        self.harness.connect("a")
        self.harness.clock.advance(3600)
        self.assertIsNone(self.written())
        stopped = service.stopService()
        assert stopped is not None
        self.successResultOf(stopped)
        self.assertEqual(self.written(), ["a"])

    def test_saveAtStop(self) -> None:
        """
        L{StateService.saveAtStop} (a stop callback of the graceful stop)
        stops the periodic writes and writes the state; the service's own
        stop then writes nothing more.
        """
        service = StateService(self.harness.tracker, StateFile(self.path), 10)
        service.startService()
        self.harness.connect("a")
        with capturedLogs() as events:
            self.assertTrue(self.successResultOf(service.saveAtStop()))
        self.assertEqual(self.written(), ["a"])
        self.assertIn("at stop", events[-1]["log_format"])
        self.harness.connect("b")
        self.harness.clock.advance(100)
        self.assertIsNone(service.stopService())
        self.assertEqual(self.written(), ["a"])

    def test_failure(self) -> None:
        """
        A write that fails is logged, the old file stays, and the next
        interval writes again.
        """
        stateFile = StateFile(self.path)
        service = StateService(self.harness.tracker, stateFile, 10)
        service.startService()
        self.addCleanup(service.stopService)
        self.harness.connect("a")
        self.harness.clock.advance(10)
        self.harness.connect("b")
        real = os.fsync

        def fsync(fd: int) -> None:
            raise OSError(28, "No space left on device")

        self.patch(os, "fsync", fsync)
        with capturedLogs() as events:
            self.harness.clock.advance(10)
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)
        self.assertIn("state not written", events[0]["log_format"])
        self.assertEqual(self.written(), ["a"])
        self.patch(os, "fsync", real)
        self.harness.clock.advance(10)
        self.assertEqual(self.written(), ["a", "b"])


class OptionsTests(SynchronousTestCase):
    """
    C{--state} and C{--state-interval} of C{twistd ppsp-tracker}.
    """

    def setUp(self) -> None:
        self.directory = FilePath(self.mktemp())
        self.directory.makedirs()
        self.path = self.directory.child("state.jsonl").path

    def parse(self, *argv: str) -> Options:
        options = Options()
        options.parseOptions(["--listen", "tcp:0:interface=127.0.0.1", *argv])
        return options

    def test_defaults(self) -> None:
        """
        No state file by default; writes every 60 s.
        """
        options = self.parse()
        self.assertIsNone(options["state"])
        self.assertEqual(options["state-interval"], 60)

    def test_noDirectory(self) -> None:
        """
        A directory given as the state file is a usage error; a state file
        in a directory that does not exist stops the start (it could never
        be written).
        """
        missing = self.directory.child("nowhere").child("state.jsonl").path
        error = self.failureResultOf(StateFile(missing).load(freshTracker(Clock())), StateError).value
        self.assertEqual(
            str(error),
            f"cannot write the state file {missing}: the directory "
            f"{self.directory.child('nowhere').path} does not exist",
        )
        with self.assertRaises(usage.UsageError) as raised:
            self.parse("--state", self.directory.path)
        self.assertIn("--state takes a file", str(raised.exception))

    def test_makeService(self) -> None:
        """
        C{makeService} loads the state file before anything listens, shows
        it in the start-up settings, and registers the last write as a
        stop callback of the graceful stop, which writes it after the
        drain.
        """
        populated = Populated(self)
        StateFile(self.path).write(dump(self, populated.tracker))
        clock = MemoryReactorClock()
        clock.advance(populated.clock.seconds())
        service: Any = makeService(self.parse("--state", self.path, "--state-interval", "5"), clock)
        tracker = service.tracker
        self.assertEqual(self.successResultOf(tracker.store.counts())[0], 4)
        self.assertEqual(len(service.stopCallbacks), 1)
        FilePath(self.path).remove()
        service.startService()
        clock.advance(5)
        self.assertIsNotNone(StateFile(self.path).read())
        FilePath(self.path).remove()
        self.successResultOf(service.stopService())
        self.assertEqual(dump(self, tracker), StateFile(self.path).read())

    def test_makeServiceRefuses(self) -> None:
        """
        A state file that cannot be used stops C{makeService} with exit
        status 1.
        """
        FilePath(self.path).setContent(b"{}\n")
        self.patch(sys, "stderr", io.StringIO())
        with self.assertRaises(SystemExit) as raised:
            makeService(self.parse("--state", self.path), MemoryReactorClock())
        self.assertEqual(raised.exception.code, 1)


# End to end ---------------------------------------------------------------------


class Client:
    """
    Talk to a tracker process over HTTP with message objects.
    """

    def __init__(self, testCase: TestCase, port: int) -> None:
        pool = HTTPConnectionPool(reactor, persistent=False)
        self.http = HTTPClient(Agent(reactor, pool=pool))
        self.url = f"http://127.0.0.1:{port}/"
        self.tokens: Dict[str, str] = {}

    @inlineCallbacks
    def send(self, request: Request) -> Any:
        response = yield self.http.post(
            self.url,
            data=XML_CODEC.encodeRequest(request),
            headers=Headers({b"Content-Type": [b"application/ppsp-tracker+xml"]}),
        )
        body = yield response.content()
        return XML_CODEC.decodeResponse(body, request.method)


def twistd(*argv: str) -> List[str]:
    return [os.path.join(BIN, "twistd"), "-n", "--pidfile=", "ppsp-tracker", "--listen", "tcp:0:interface=127.0.0.1", *argv]


class ProcessTests(TestCase):
    """
    A tracker process restarted with C{--state} keeps every session.
    """

    timeout = 60

    def setUp(self) -> None:
        directory = FilePath(self.mktemp())
        directory.makedirs()
        self.path = directory.child("state.jsonl").path

    def start(self, *argv: str) -> TrackerProcess:
        process = TrackerProcess()
        spawn(self, process, twistd("--state", self.path, *argv))
        return process

    @inlineCallbacks
    def populate(self, client: Client) -> Any:
        """
        Three peers: a SEED with chunks and statistics, two LEECHes, one
        with chunks.
        """
        for peerID, mode in (("seed", PeerMode.SEED), ("leech-1", PeerMode.LEECH), ("leech-2", PeerMode.LEECH)):
            answer = yield client.send(ConnectRequest(peerID + "-c", peerID))
            self.assertIsInstance(answer, ConnectResponse)
            token = client.tokens[peerID] = answer.authToken
            answer = yield client.send(JoinRequest(peerID + "-j", peerID, token, swarmID="live", mode=mode))
            self.assertNotIsInstance(answer, ErrorResponse)
        for peerID, chunks in (("seed", (ChunkRange(0, 999),)), ("leech-1", (ChunkRange(7, 7),))):
            answer = yield client.send(
                JoinChunkRequest(peerID + "-k", peerID, client.tokens[peerID], swarmID="live", chunks=chunks)
            )
            self.assertNotIsInstance(answer, ErrorResponse)
        answer = yield client.send(
            StatReportRequest("s", "seed", client.tokens["seed"], stats=(Stat("UploadBandwidth", "8000"),))
        )
        self.assertNotIsInstance(answer, ErrorResponse)

    @inlineCallbacks
    def check(self, client: Client, tokens: Dict[str, str]) -> Any:
        """
        Every peer's token still works, the swarm lists every member with
        its mode, FIND_CHUNK finds each chunk's holders, and the SEED's
        statistics meet a FIND constraint.
        """
        for peerID, token in tokens.items():
            answer = yield client.send(KeepAliveRequest(peerID + "-a", peerID, token))
            self.assertEqual((peerID, type(answer).__name__), (peerID, "KeepAliveResponse"))
        answer = yield client.send(FindRequest("f1", "leech-2", tokens["leech-2"], swarmID="live"))
        self.assertEqual(
            sorted((p.peerID, p.mode) for p in answer.peers),
            [("leech-1", PeerMode.LEECH), ("seed", PeerMode.SEED)],
        )
        answer = yield client.send(FindChunkRequest("f2", "leech-2", tokens["leech-2"], swarmID="live", chunkID=7))
        self.assertEqual(sorted(p.peerID for p in answer.peers), ["leech-1", "seed"])
        answer = yield client.send(FindChunkRequest("f3", "leech-2", tokens["leech-2"], swarmID="live", chunkID=500))
        self.assertEqual([p.peerID for p in answer.peers], ["seed"])
        answer = yield client.send(
            FindRequest("f4", "leech-2", tokens["leech-2"], swarmID="live", constraints=(Stat("UploadBandwidth", "5000"),))
        )
        self.assertEqual([p.peerID for p in answer.peers], ["seed"])

    @inlineCallbacks
    def test_restart(self) -> Any:
        """
        Peers register; SIGTERM writes the state (mode 0600) and the
        process exits 0; a new process started with the same C{--state}
        knows every peer's token, membership, chunks and statistics; SIGINT
        stops it gracefully and writes the state too.
        """
        process = self.start()
        port = yield process.listening
        self.assertIn(b"does not exist: starting with no state", process.output)
        client = Client(self, port)
        yield self.populate(client)
        process.transport.signalProcess("TERM")  # type: ignore[union-attr]
        reason = yield process.ended
        self.assertIsInstance(reason, ProcessDone, process.output)
        self.assertIn(b"at stop: 3 session(s)", process.output)
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o600)
        second = self.start()
        port = yield second.listening
        self.assertRegex(second.output.decode(), r"state loaded from .*: 3 session\(s\), 3 membership")
        yield self.check(Client(self, port), client.tokens)
        # SIGINT (Control-C) stops it gracefully too, and writes the state.
        second.transport.signalProcess("INT")  # type: ignore[union-attr]
        yield second.ended
        self.assertIn(b"at stop: 3 session(s)", second.output)

    @inlineCallbacks
    def test_killed(self) -> Any:
        """
        Killed with SIGKILL (no graceful stop) after a periodic write, the
        tracker has still written what it held at that write: a new process
        started with the same C{--state} knows every peer.
        """
        process = self.start("--state-interval", "1")
        port = yield process.listening
        client = Client(self, port)
        yield self.populate(client)
        # A periodic write after the last request: forget the lines
        # written so far, then wait for the debug line of the next write.
        del process.output[:]
        yield watch(process, rb"state written to .*: 3 session\(s\)")
        os.kill(process.transport.pid, signal.SIGKILL)  # type: ignore[union-attr]
        reason = yield process.ended
        self.assertIsInstance(reason, ProcessTerminated)
        self.assertEqual(reason.signal, signal.SIGKILL)
        second = self.start()
        port = yield second.listening
        yield self.check(Client(self, port), client.tokens)

    @inlineCallbacks
    def test_corrupt(self) -> Any:
        """
        A damaged state file stops the start: one line naming the file,
        exit status 1, nothing listens.
        """
        FilePath(self.path).setContent(b'{"format":"ppsp-tracker-state","version":1,"written":0}\n{"peer"')
        process = self.start()
        process.listening.addErrback(lambda f: None)
        reason = yield process.ended
        self.assertEqual(reason.exitCode, 1)
        lines = process.output.decode().splitlines()
        self.assertEqual(
            lines,
            [
                f"ppsp-tracker: cannot use the state file {self.path}: the file is cut short "
                "(it does not end with its end record); not started (move the file away to start "
                "without the state)"
            ],
        )
