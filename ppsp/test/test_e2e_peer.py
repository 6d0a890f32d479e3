"""
End to end: a real C{twistd ppsp-tracker} and two real C{twistd ppsp-peer}
processes on 127.0.0.1 find each other, and find each other again after
the tracker process is restarted; the command-line client talks to the
same tracker.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, Optional

from twisted.internet import reactor as _reactor
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from ppsp.test.doccommands import Commands, DocumentedCommand, blockAfter, runsDocumented, unshown
from ppsp.test.test_twistd import BIN, Process, spawn

reactor: Any = _reactor


class PeerEndToEndTests(TestCase):
    """
    Trackers and peers as operators run them.
    """

    timeout = 120

    def spawn(self, *args: str, module: Optional[str] = None) -> Process:
        """
        Start C{twistd -n ARGS}, or C{python -m MODULE ARGS}, or with an
        empty C{module}, C{python ARGS}.
        """
        process = Process()
        if module == "":
            argv = [sys.executable, *args]
        elif module is not None:
            argv = [sys.executable, "-m", module, *args]
        else:
            argv = [os.path.join(BIN, "twistd"), "-n", "--pidfile=", *args]
        process.transport = spawn(self, process, argv)
        return process

    def tracker(self, listen: str) -> Process:
        return self.spawn("ppsp-tracker", "--listen", listen, "--keepalive-interval", "2", "--peer-timeout", "6")

    def peer(self, url: str, peerID: str, swarm: str) -> Process:
        return self.spawn(
            "ppsp-peer",
            "--tracker", url,
            "--peer-id", peerID,
            "--swarm", swarm,
            "--find-interval", "1",
            "--stat-listen", "tcp:0:interface=127.0.0.1",
            "--stat", "UploadBandwidth=1000",
        )

    @inlineCallbacks
    def test_peersFindEachOtherAcrossRestart(self) -> Any:
        """
        Two peers register with a real tracker and each logs a peer list
        naming the other; the tracker is killed and started again on the
        same port; both register again by themselves and again log lists
        naming each other.  The command-line client sees both.
        """
        tracker = self.tracker("tcp:0:interface=127.0.0.1")
        match = yield tracker.waitFor(rb"listening on 127\.0\.0\.1:(\d+)")
        port = int(match.group(1))
        url = f"http://127.0.0.1:{port}/"
        seed = self.peer(url, "peer-seed", "live:SEED")
        leech = self.peer(url, "peer-leech", "live")
        yield seed.waitFor(rb"peer-seed registered with the tracker")
        yield seed.waitFor(rb"answering STAT_QUERY on 127\.0\.0\.1:\d+")
        yield leech.waitFor(rb"peer\(s\) for swarm live: peer-seed \(SEED 127\.0\.0\.1:")
        yield seed.waitFor(rb"peer\(s\) for swarm live: peer-leech \(LEECH 127\.0\.0\.1:")

        cli = self.spawn("--tracker", url, "find", "live", module="ppsp.client")
        reason = yield cli.ended
        self.assertEqual(getattr(reason, "exitCode", 0), 0, cli.output)
        self.assertIn(b"2 peers in swarm live:", cli.output)
        self.assertIn(b"peer-seed  SEED", cli.output)

        tracker.transport.signalProcess("KILL")  # type: ignore[union-attr]
        yield tracker.ended
        yield leech.waitFor(rb"is unreachable", start=0)
        seedMark, leechMark = len(seed.output), len(leech.output)
        restarted = self.tracker(f"tcp:{port}:interface=127.0.0.1")
        yield restarted.waitFor(rb"listening on 127\.0\.0\.1:%d" % (port,))
        yield leech.waitFor(rb"peer-leech registered with the tracker", start=leechMark)
        yield seed.waitFor(rb"peer-seed registered with the tracker", start=seedMark)
        yield leech.waitFor(rb"for swarm live: peer-seed \(SEED", start=leechMark)
        yield seed.waitFor(rb"for swarm live: peer-leech \(LEECH", start=seedMark)

    @inlineCallbacks
    def test_peerSaysGoodbye(self) -> Any:
        """
        A peer stopped with SIGTERM LEAVEs and DISCONNECTs before it exits.
        """
        tracker = self.tracker("tcp:0:interface=127.0.0.1")
        match = yield tracker.waitFor(rb"listening on 127\.0\.0\.1:(\d+)")
        url = f"http://127.0.0.1:{int(match.group(1))}/"
        peer = self.peer(url, "peer-x", "live")
        yield peer.waitFor(rb"peer-x registered with the tracker")
        peer.transport.signalProcess("TERM")  # type: ignore[union-attr]
        yield peer.ended
        self.assertIn(b"left every swarm and disconnected from the tracker", peer.output)
        # The tracker forgot it (it answered the DISCONNECT before the peer
        # logged that line): a FIND lists nobody.
        cli = self.spawn("--tracker", url, "find", "live", module="ppsp.client")
        yield cli.ended
        self.assertIn(b"0 peers in swarm live", cli.output)

    @runsDocumented(
        "docs/peer-tutorial.rst",
        "twistd -n ppsp-tracker --listen tcp:7000:interface=127.0.0.1",
        "python docs/examples/streaming_peer.py http://127.0.0.1:7000/ peer-a live-1",
        "python docs/examples/streaming_peer.py http://127.0.0.1:7000/ peer-b live-1",
    )
    @inlineCallbacks
    def test_tutorialProgram(
        self, tracker: DocumentedCommand, first: DocumentedCommand, second: DocumentedCommand
    ) -> Any:
        """
        The peer tutorial's commands run as written, from a checkout: a
        tracker, and two copies of the program, the second once the first
        has logged its first look-ahead; the later one logs the line the
        tutorial shows, finding the earlier one holding the chunk it needs
        next; Ctrl-C stops a copy, which leaves and disconnects first.
        """
        from ppsp.test.test_docs import EXAMPLES

        if not EXAMPLES.exists():
            raise self.skipTest("docs/examples/ is not beside this ppsp package")
        run = Commands(self, ports=[7000])
        run.copy("docs/examples/streaming_peer.py")
        running = run.start(tracker)
        yield running.waitFor(rb"listening on 127\.0\.0\.1:\d+")
        ahead = run.start(first)
        yield ahead.waitFor(rb"peer-a registered with the tracker")
        # The first is ahead of the second by its first look-ahead (5 s of
        # chunks), so that it holds what the second will look for.
        yield ahead.waitFor(rb"found \d+ peer\(s\) holding chunk \d+", timeout=30)
        behind = run.start(second)
        yield behind.waitFor(rb"found 1 peer\(s\) holding chunk \d+", timeout=30)
        shown = [line for line in blockAfter(second).text.splitlines() if line.strip()]
        self.assertEqual(unshown(shown, behind.text), [])
        yield ahead.stop(signal.SIGINT)
        self.assertIn("left every swarm and disconnected from the tracker", ahead.text)

    @inlineCallbacks
    def test_jsonAndXMLPeers(self) -> Any:
        """
        A JSON peer (RFC 7846) and an XML peer find each other through one
        running tracker.
        """
        tracker = self.tracker("tcp:0:interface=127.0.0.1")
        match = yield tracker.waitFor(rb"listening on 127\.0\.0\.1:(\d+)")
        url = f"http://127.0.0.1:{int(match.group(1))}/"
        xml = self.peer(url, "peer-xml", "live:SEED")
        json = self.spawn(
            "ppsp-peer", "--tracker", url, "--peer-id", "peer-json", "--swarm", "live",
            "--encoding", "json", "--find-interval", "1",
        )
        yield json.waitFor(rb"for swarm live: peer-xml \(SEED 127\.0\.0\.1:")
        yield xml.waitFor(rb"for swarm live: peer-json \(LEECH 127\.0\.0\.1:")
        json.transport.signalProcess("TERM")  # type: ignore[union-attr]
        yield json.ended
        self.assertIn(b"left every swarm and disconnected from the tracker", json.output)

    @inlineCallbacks
    def test_closedTracker(self) -> Any:
        """
        A tracker run with C{--auth token:SECRET} registers a peer that
        presents a credential from C{python -m ppsp.auth issue} (C{--cer})
        and refuses one without, which keeps retrying and says why.
        """
        secret = self.mktemp()
        with open(secret, "w") as f:
            f.write("closed-tracker-secret-0123456789\n")
        issue = self.spawn("issue", "--secret-file", secret, "--peer-id", "peer-ok", "--ttl", "3600", module="ppsp.auth")
        yield issue.ended
        cer = self.mktemp()
        with open(cer, "wb") as f:
            f.write(bytes(issue.output))
        tracker = self.spawn(
            "ppsp-tracker", "--listen", "tcp:0:interface=127.0.0.1", "--auth", "token:" + secret
        )
        match = yield tracker.waitFor(rb"listening on 127\.0\.0\.1:(\d+)")
        url = f"http://127.0.0.1:{int(match.group(1))}/"
        good = self.spawn("ppsp-peer", "--tracker", url, "--peer-id", "peer-ok", "--swarm", "live", "--cer", cer)
        bad = self.spawn("ppsp-peer", "--tracker", url, "--peer-id", "peer-no", "--swarm", "live")
        yield good.waitFor(rb"peer-ok registered with the tracker")
        yield bad.waitFor(rb"the tracker refused to register peer-no: CONNECT answered AUTHENTICATION REQUIRED")
        self.assertNotIn(b"closed-tracker-secret", tracker.output)

    @inlineCallbacks
    def test_statQueryBothWays(self) -> Any:
        """
        The operator asks a real ppsp-peer for its statistics through the
        tracker's admin interface: the tracker sends STAT_QUERY to the
        address it observes (127.0.0.1), not to the public address the
        peer claims, and the peer answers from its --stat values, which
        the tracker then keeps.  A peer that is gone is reported
        unreachable.
        """
        import json

        from treq.client import HTTPClient
        from twisted.web.client import Agent, HTTPConnectionPool

        tracker = self.spawn(
            "ppsp-tracker", "--listen", "tcp:0:interface=127.0.0.1",
            "--admin", "tcp:0:interface=127.0.0.1",
        )
        match = yield tracker.waitFor(rb"PPSP tracker listening on 127\.0\.0\.1:(\d+)")
        url = f"http://127.0.0.1:{int(match.group(1))}/"
        match = yield tracker.waitFor(rb"admin interface listening at 127\.0\.0\.1:(\d+)")
        admin = f"http://127.0.0.1:{int(match.group(1))}"
        peer = self.spawn(
            "ppsp-peer", "--tracker", url, "--peer-id", "peer-a", "--swarm", "live",
            "--address", "203.0.113.9:9000",
            "--stat-listen", "tcp:0:interface=127.0.0.1", "--stat", "UploadBandwidth=1234",
        )
        yield peer.waitFor(rb"peer-a registered with the tracker")
        pool = HTTPConnectionPool(reactor, persistent=False)
        http = HTTPClient(Agent(reactor, pool=pool))
        response = yield http.post(admin + "/peers/peer-a/stat-query")
        answer = json.loads((yield response.content()))
        self.assertEqual(response.code, 200, answer)
        self.assertTrue(answer["address"].startswith("127.0.0.1:"), answer)
        self.assertEqual(
            [(s["property"], s["value"]) for s in answer["stats"]], [("UploadBandwidth", "1234")]
        )
        response = yield http.get(admin + "/peers/peer-a")
        view = json.loads((yield response.content()))
        self.assertIn("1234", json.dumps(view))

        peer.transport.signalProcess("KILL")  # type: ignore[union-attr]
        yield peer.ended
        response = yield http.post(admin + "/peers/peer-a/stat-query")
        answer = json.loads((yield response.content()))
        self.assertEqual((response.code, answer["error"]), (504, "unreachable"), answer)
