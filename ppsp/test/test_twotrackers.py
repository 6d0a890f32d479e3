"""
End to end: two C{twistd ppsp-tracker} processes on one real
C{redis-server} (L{ppsp.test.redisserver}) are one tracker, as
C{docs/redis.rst} says and shows, with its documented commands run as
written (L{ppsp.test.doccommands}).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Sequence

from twisted.internet.defer import inlineCallbacks

from ppsp.messages import (
    ConnectRequest, ConnectResponse, DisconnectRequest, DisconnectResponse, ErrorResponse,
    FindRequest, JoinRequest, KeepAliveRequest, KeepAliveResponse, LeaveRequest, LeaveResponse,
    PeerMode, ResponseCode,
)
from ppsp.test.doccommands import CommandProcess, Commands, DocumentedCommand, blockAfter, runsDocumented
from ppsp.test.redisserver import startRedis
from ppsp.test.test_doccommands import DocsTestCase, listening
from ppsp.test.test_state import Client

PAGE = "docs/redis.rst"


class TwoTrackersTests(DocsTestCase):
    """
    Trackers A (documented port 7000) and B (7002) with C{--store
    redis://...} on one server.
    """

    @inlineCallbacks
    def startBoth(self, run: Commands, commands: Sequence[DocumentedCommand]) -> Any:
        """
        Start the trackers of C{commands} and wait for their start-up
        lines; fire with their processes.
        """
        processes: List[CommandProcess] = [run.start(command) for command in commands]
        for process in processes:
            yield listening(process)
        return processes

    @inlineCallbacks
    def stopBoth(self, processes: Sequence[CommandProcess]) -> Any:
        """
        Stop the trackers gracefully (SIGTERM) and wait for their ends.
        """
        for process in processes:
            yield process.stop()
        for process in processes:
            self.assertIn("Server Shut Down", process.text)

    def tracker(self, run: Commands, port: int) -> Client:
        """
        A protocol client of the tracker started on the documented C{port}.
        """
        return Client(self, run.ports[port])

    def peerIDs(self, answer: Any) -> List[str]:
        self.assertNotIsInstance(answer, ErrorResponse)
        return sorted(p.peerID for p in answer.peers)

    @runsDocumented(
        PAGE,
        "twistd -n ppsp-tracker --listen tcp:7000 --store redis://127.0.0.1:6379/0",
        "twistd -n --pidfile= ppsp-tracker --listen tcp:7002 --store redis://127.0.0.1:6379/0",
        "python -m ppsp.client --tracker http://127.0.0.1:7000/ --peer-id peer-a --keep join live-1:SEED",
        "python -m ppsp.client --tracker http://127.0.0.1:7002/ find live-1",
        "python -m ppsp.client --tracker http://127.0.0.1:7002/ --peer-id peer-a --token 0b4W... --keep keepalive",
        "python -m ppsp.client --tracker http://127.0.0.1:7002/ --peer-id peer-a --token 0b4W... disconnect",
    )
    @inlineCallbacks
    def test_oneTracker(self, *commands: DocumentedCommand) -> Any:
        """
        A peer registered through A is found through B, and kept alive
        through B with A's AuthToken; a DISCONNECT through B takes a peer
        out of A's FIND answers; a LEAVE sent to A and repeated to B (same
        address, same TransactionID) gets A's answer from B and is applied
        once; both trackers restarted (SIGTERM, then the same commands)
        still know the session, which then ends through B.
        """
        startA, startB, join, find, keepalive, disconnect = commands
        redis = startRedis(self)
        run = Commands(self, ports=[7000, 7002])
        run.ports[6379] = redis.port
        trackers = yield self.startBoth(run, [startA, startB])
        for process in trackers:
            self.assertShown(blockAfter(startB).text, process.text)
            self.assertNotIn("store=memory", process.text)

        # The documented session: JOIN through A, FIND and KEEPALIVE
        # through B with A's token.
        joined = yield run.run(join)
        self.assertShown(join.output, joined.text)
        [token] = re.findall(r"session kept: --peer-id peer-a --token (\S+)", joined.text)
        run.placeholders["0b4W..."] = token
        found = yield run.run(find)
        self.assertShown(find.output, found.text)
        kept = yield run.run(keepalive)
        self.assertShown(keepalive.output, kept.text)

        # Another peer, through the protocol: registered and joined through
        # A, seen by peer-a through A.
        a, b = self.tracker(run, 7000), self.tracker(run, 7002)
        answer = yield a.send(ConnectRequest("b-1", "peer-b"))
        self.assertIsInstance(answer, ConnectResponse)
        tokens: Dict[str, str] = {"peer-a": token, "peer-b": answer.authToken}
        answer = yield a.send(JoinRequest("b-2", "peer-b", tokens["peer-b"], swarmID="live-1", mode=PeerMode.LEECH))
        self.assertNotIsInstance(answer, ErrorResponse)
        answer = yield b.send(FindRequest("a-1", "peer-a", token, swarmID="live-1"))
        self.assertEqual(self.peerIDs(answer), ["peer-b"])

        # A retry that lands on the other tracker: B answers as A did and
        # does not LEAVE again (a second LEAVE is an error).
        leave = LeaveRequest("b-3", "peer-b", tokens["peer-b"], swarmID="live-1")
        first = yield a.send(leave)
        self.assertIsInstance(first, LeaveResponse)
        retried = yield b.send(leave)
        self.assertEqual(retried, first)
        again = yield b.send(LeaveRequest("b-4", "peer-b", tokens["peer-b"], swarmID="live-1"))
        self.assertIsInstance(again, ErrorResponse)
        answer = yield a.send(FindRequest("a-2", "peer-a", token, swarmID="live-1"))
        self.assertEqual(self.peerIDs(answer), [])

        # A DISCONNECT through B takes peer-b out of A's answers.
        answer = yield a.send(JoinRequest("b-5", "peer-b", tokens["peer-b"], swarmID="live-1", mode=PeerMode.LEECH))
        self.assertNotIsInstance(answer, ErrorResponse)
        answer = yield a.send(FindRequest("a-3", "peer-a", token, swarmID="live-1"))
        self.assertEqual(self.peerIDs(answer), ["peer-b"])
        answer = yield b.send(DisconnectRequest("b-6", "peer-b", tokens["peer-b"]))
        self.assertIsInstance(answer, DisconnectResponse)
        answer = yield a.send(FindRequest("a-4", "peer-a", token, swarmID="live-1"))
        self.assertEqual(self.peerIDs(answer), [])
        answer = yield a.send(KeepAliveRequest("b-7", "peer-b", tokens["peer-b"]))
        self.assertIsInstance(answer, ErrorResponse)
        self.assertEqual(answer.errorCode, ResponseCode.AUTHENTICATION_REQUIRED)

        # Both restarted: peer-a's session and membership are still there.
        yield self.stopBoth(trackers)
        trackers = yield self.startBoth(run, [startA, startB])
        a, b = self.tracker(run, 7000), self.tracker(run, 7002)
        answer = yield a.send(KeepAliveRequest("a-5", "peer-a", token))
        self.assertIsInstance(answer, KeepAliveResponse)
        answer = yield a.send(ConnectRequest("c-1", "peer-c"))
        self.assertIsInstance(answer, ConnectResponse)
        answer = yield b.send(FindRequest("c-2", "peer-c", answer.authToken, swarmID="live-1"))
        self.assertEqual([(p.peerID, p.mode) for p in answer.peers], [("peer-a", PeerMode.SEED)])
        ended = yield run.run(disconnect)
        self.assertShown(disconnect.output, ended.text)
        answer = yield a.send(KeepAliveRequest("a-6", "peer-a", token))
        self.assertEqual(answer.errorCode, ResponseCode.AUTHENTICATION_REQUIRED)
        yield self.stopBoth(trackers)
