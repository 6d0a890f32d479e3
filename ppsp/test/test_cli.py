"""
Tests for the command-line client (C{python -m ppsp.client}) against the
real tracker in memory.
"""

from __future__ import annotations

import io
from typing import List

from twisted.internet.defer import Deferred
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from ppsp.client import Options, run
from ppsp.messages import ChunkRange, PeerAddress, PeerMode
from ppsp.test.helpers import StoreReads
from ppsp.testing import MemoryTracker


class CommandLineTests(SynchronousTestCase):
    """
    Each command prints its answers in plain words and exits 0, 1 or 2.
    """

    def setUp(self) -> None:
        self.fake = MemoryTracker()
        seed = self.fake.client("seed")
        self.successResultOf(seed.connect([PeerAddress("198.51.100.22", 7000)]))
        self.successResultOf(seed.join("live", PeerMode.SEED))
        self.successResultOf(seed.joinChunk("live", [ChunkRange(0, 99)]))

    def cli(self, *argv: str) -> tuple[int, List[str]]:
        options = Options()
        options.parseOptions(["--tracker", self.fake.url, *argv])
        client = self.fake.client(options["peer-id"], attempts=1, codec=options["codec"])
        out = io.StringIO()
        status = self.successResultOf(
            Deferred.fromCoroutine(run(options, client, out, self.fake.clock))
        )
        return status, out.getvalue().splitlines()

    def test_find(self) -> None:
        """
        C{find SWARM} connects, lists the peers one a line, and
        disconnects.
        """
        status, lines = self.cli("--peer-id", "me", "find", "live")
        self.assertEqual(status, 0)
        self.assertEqual(lines[0], "CONNECT as me -> OK (0 ms)")
        self.assertIn("  1 peer in swarm live:", lines)
        self.assertIn("    seed  SEED  127.0.0.1:7000 (REFLEXIVE)", lines)
        self.assertEqual(lines[-1], "DISCONNECT -> OK (0 ms)")
        self.assertIsNone(StoreReads(self, self.fake.tracker.store).peer("me"))

    def test_findChunk(self) -> None:
        """
        C{find --chunk} sends FIND_CHUNK; no holder is OBJECT NOT FOUND and
        exit status 1.
        """
        status, lines = self.cli("find", "live", "--chunk", "5")
        self.assertEqual(status, 0)
        self.assertIn("FIND_CHUNK live chunk 5 -> OK (0 ms)", lines)
        status, lines = self.cli("find", "live", "--chunk", "500")
        self.assertEqual(status, 1)
        self.assertIn("FIND_CHUNK live chunk 500 -> OBJECT NOT FOUND: no peer holds this chunk", lines)

    def test_unknownSwarm(self) -> None:
        """
        An error answer is printed with its code and reason.
        """
        status, lines = self.cli("find", "nowhere")
        self.assertEqual(status, 1)
        self.assertIn("FIND nowhere -> OBJECT NOT FOUND: unknown SwarmID", lines)

    def test_connectKeep(self) -> None:
        """
        C{connect --keep} prints the session, which a later run reuses with
        C{--token}.
        """
        status, lines = self.cli("--peer-id", "me", "--keep", "connect")
        self.assertEqual(status, 0)
        self.assertTrue(lines[1].startswith("  AuthToken: "))
        self.assertIn("  send KEEPALIVE every 60 s", lines)
        token = lines[1].split(": ")[1]
        self.assertEqual(lines[-1], f"session kept: --peer-id me --token {token}")
        status, lines = self.cli("--peer-id", "me", "--token", token, "--keep", "join", "live")
        self.assertEqual(status, 0)
        self.assertEqual(lines[0], "JOIN live as LEECH -> OK (0 ms)")
        self.assertIn("live", StoreReads(self, self.fake.tracker.store).registered("me").swarms)
        status, lines = self.cli("--peer-id", "me", "--token", token, "disconnect")
        self.assertEqual(lines, ["DISCONNECT -> OK (0 ms)"])

    def test_statReportAndJoinChunk(self) -> None:
        """
        C{stat-report} and C{join-chunk} take their values as arguments.
        """
        status, lines = self.cli("--peer-id", "me", "--keep", "stat-report", "UploadBandwidth=500")
        self.assertEqual(status, 0)
        self.assertEqual(StoreReads(self, self.fake.tracker.store).registered("me").stats["UploadBandwidth"], 500)
        token = lines[-1].rsplit(" ", 1)[1]
        self.cli("--peer-id", "me", "--token", token, "--keep", "join", "vod", "--mode", "seed")
        status, lines = self.cli("--peer-id", "me", "--token", token, "join-chunk", "vod", "1", "5-9")
        self.assertEqual(status, 0)
        self.assertIn("JOIN_CHUNK vod (2 range(s)) -> OK (0 ms)", lines)

    def test_unreachable(self) -> None:
        """
        A tracker that cannot be reached is exit status 2, with the reason.
        """
        self.fake.stop()
        status, lines = self.cli("keepalive")
        self.assertEqual(status, 2)
        self.assertTrue(lines[0].startswith("cannot reach the tracker: the tracker at http://tracker.example/ did not answer after 1 attempt(s): Connection was refused"), lines)

    def test_usage(self) -> None:
        """
        A missing command, a bad mode, a bad chunk range and a token
        without its PeerID are usage errors.
        """
        for argv in (
            [],
            ["join", "s", "--mode", "boss"],
            ["join-chunk", "s", "9-1"],
            ["--token", "x", "keepalive"],
            ["stat-report"],
            ["find"],
        ):
            self.assertRaises(usage.UsageError, Options().parseOptions, argv)

    def test_json(self) -> None:
        """
        With C{--encoding json}, the client registers by joining the
        command's swarm, and prints the answers the same way.
        """
        options = Options()
        options.parseOptions(["--tracker", self.fake.url, "--encoding", "json", "--peer-id", "j", "find", "live"])
        client = self.fake.client("j", attempts=1, codec=options["codec"])
        out = io.StringIO()
        status = self.successResultOf(Deferred.fromCoroutine(run(options, client, out, self.fake.clock)))
        lines = out.getvalue().splitlines()
        self.assertEqual(status, 0, lines)
        self.assertIn("  joined swarm live (1 peer)", lines)
        self.assertIn("FIND live -> OK (0 ms)", lines)
        self.assertIsNone(StoreReads(self, self.fake.tracker.store).peer("j"))

    def test_jsonNeedsSwarm(self) -> None:
        """
        A JSON command without a swarm cannot register, and says so.
        """
        status, lines = self.cli("--encoding", "json", "keepalive")
        self.assertEqual(status, 1)
        self.assertIn("only with a swarm", lines[0])

    def test_brokenPipe(self) -> None:
        """
        Output cut short by its reader (C{| head}) does not stop the run:
        the session is still closed.
        """

        class Closed(io.StringIO):
            def write(self, text: str) -> int:
                raise BrokenPipeError()

        options = Options()
        options.parseOptions(["--tracker", self.fake.url, "--peer-id", "me", "find", "live"])
        client = self.fake.client("me", attempts=1)
        status = self.successResultOf(
            Deferred.fromCoroutine(run(options, client, Closed(), self.fake.clock))
        )
        self.assertEqual(status, 0)
        self.assertIsNone(StoreReads(self, self.fake.tracker.store).peer("me"))
