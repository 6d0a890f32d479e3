# -*- test-case-name: ppsp.test.test_peer_tap -*-
"""
C{twistd ppsp-peer}: a peer that lives on its own, from the command line.

It registers with the tracker, joins its swarms, keeps its registration
alive, reports the statistics given with C{--stat}, answers STAT_QUERY
when C{--stat-listen} is given, FINDs peers every C{--find-interval}
seconds and logs each peer list it receives.
"""

from __future__ import annotations

from typing import Any, List, Optional

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import serverFromString
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python import usage

from ppsp._listen import listenFailure
from ppsp._options import (
    ProbeReactor,
    ServiceOptions,
    checkPorts,
    checkTrackerURL,
    codecNamed,
    nonNegativeSeconds,
    parseAddress,
    parseSwarm,
    positiveInt,
    positiveSeconds,
)
from ppsp.codec.identifiers import identifierRule, validIdentifier
from ppsp.messages import Stat
from ppsp.peer._statresource import StatQueryResource, statQuerySite
from ppsp.peer._trackerclient import TLSPolicy, TrackerClient, makeHTTPClient
from ppsp.peer.service import PeerService
from ppsp.peer.sources import StaticStats

__all__ = ["Options", "makeService", "PeerDaemon"]


class Options(ServiceOptions):
    """
    The options of C{twistd ppsp-peer}.
    """

    synopsis = "--tracker URL --peer-id ID --swarm SWARM[:MODE] [options]"
    longdesc = (
        "Run a PPSP peer that registers with a tracker, joins swarms, stays "
        "registered, and logs every peer list it receives."
    )

    optParameters: List[List[Any]] = [
        ["tracker", "t", None, "The tracker's URL, http:// or https://."],
        ["peer-id", "p", None, "This peer's PeerID."],
        ["stat-listen", None, None, "Endpoint on which to answer the tracker's STAT_QUERY, e.g. tcp:7001; its port is announced as StatPort."],
        ["cer", None, None, "File holding the credential presented at CONNECT, read again at every CONNECT (replace it before the credential expires)."],
        ["trust-root", None, None, "PEM file of the CA that signs the tracker's certificate (https); the system's trust store otherwise."],
        ["client-certificate", None, None, "PEM file with this peer's TLS client certificate and its private key."],
        ["find-interval", None, 30.0, "Seconds between FINDs of every swarm; 0 for none.", nonNegativeSeconds],
        ["stat-report-interval", None, 60.0, "Seconds between STAT_REPORTs of the --stat values.", positiveSeconds],
        ["peer-num", None, None, "How many peers to ask for (the tracker's default otherwise).", positiveInt],
        ["timeout", None, 10.0, "Seconds one request may take.", positiveSeconds],
        ["encoding", "e", "xml", "xml (the draft's profile) or json (RFC 7846)."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["swarms"] = {}
        self["addresses"] = []
        self["stats"] = []

    def opt_swarm(self, value: str) -> None:
        """
        A swarm to join, SWARM[:MODE] with MODE LEECH (default), SEED or
        LIVESEED; repeat for more.
        """
        try:
            swarmID, mode = parseSwarm(value)
        except ValueError as e:
            raise usage.UsageError(f"--swarm: {e}") from None
        self["swarms"][swarmID] = mode

    opt_s = opt_swarm

    def opt_address(self, value: str) -> None:
        """
        An address to announce, IP:PORT ([IPv6]:PORT); repeat for more.
        """
        try:
            self["addresses"].append(parseAddress(value))
        except ValueError as e:
            raise usage.UsageError(f"--address: {e}") from None

    opt_a = opt_address

    def opt_stat(self, value: str) -> None:
        """
        A statistic to report, NAME=VALUE (for example
        UploadBandwidth=2000); repeat for more.
        """
        name, sep, stat = value.partition("=")
        if not sep or not name.strip():
            raise usage.UsageError(f"--stat: {value!r} is not NAME=VALUE")
        self["stats"].append(Stat(name.strip(), stat.strip()))

    def postOptions(self) -> None:
        """
        Check every value; any mistake is a usage error.
        """
        url = self["tracker"]
        if not url:
            raise usage.UsageError("--tracker is required")
        checkTrackerURL(url)
        if not self["peer-id"]:
            raise usage.UsageError("--peer-id is required")
        if not validIdentifier(self["peer-id"]):
            raise usage.UsageError(
                f"--peer-id {self['peer-id']!r} is not a valid PeerID ({identifierRule()})"
            )
        if self["stat-listen"] is not None:
            reactor = ProbeReactor()
            try:
                checkPorts(reactor, serverFromString(reactor, self["stat-listen"]))
            except Exception as e:
                raise usage.UsageError(
                    f"--stat-listen {self['stat-listen']!r} is not a valid endpoint: {e}"
                ) from None
        self["credential"] = None
        if self["cer"] is not None:
            try:
                with open(self["cer"], encoding="utf-8") as f:
                    self["credential"] = f.read().strip()
            except (OSError, UnicodeDecodeError) as e:
                raise usage.UsageError(f"--cer: cannot read {self['cer']!r}: {e}") from None
        try:
            self["tls"] = TLSPolicy.fromFiles(self["trust-root"], self["client-certificate"])
        except Exception as e:
            raise usage.UsageError(f"cannot load the TLS files: {e}") from None
        if self["peer-num"] is not None and self["peer-num"] < 1:
            raise usage.UsageError("--peer-num must be at least 1")
        try:
            self["codec"] = codecNamed(self["encoding"])
        except KeyError:
            raise usage.UsageError(f"--encoding {self['encoding']!r} is not xml or json") from None


class PeerDaemon(Service):
    """
    The service C{twistd ppsp-peer} runs: the STAT_QUERY listener (when
    asked for) and the L{PeerService}, which starts once the listener's
    port is known so that it can announce it; on stop, the peer says
    goodbye, then the listener and the HTTP connections close.

    @ivar peer: the L{PeerService}.
    @ivar statDescription: the endpoint description of C{--stat-listen},
        for the message when it cannot listen.
    """

    log = Logger()

    def __init__(
        self,
        peer: PeerService,
        pool: Any,
        statEndpoint: Optional[Any] = None,
        statSite: Optional[Any] = None,
        statDescription: str = "",
    ) -> None:
        self.peer = peer
        self.pool = pool
        self.statEndpoint = statEndpoint
        self.statSite = statSite
        self.statDescription = statDescription
        self._port: Optional[Any] = None

    def startService(self) -> None:
        """
        Listen for STAT_QUERY, then start the peer.

        @raise ppsp._listen.CannotListen: the port cannot be bound (a port
            in use): start-up stops with one line naming the endpoint and
            the reason.
        """
        super().startService()
        if self.statEndpoint is None:
            self.peer.startService()
            return
        errors: List[Failure] = []
        synchronous = True

        def failed(failure: Failure) -> None:
            if synchronous:
                errors.append(failure)
            else:
                self.log.failure("cannot listen for STAT_QUERY", failure)

        d = self.statEndpoint.listen(self.statSite)
        d.addCallback(self._listening).addErrback(failed)
        synchronous = False
        if errors:
            # One line naming the endpoint and the reason (ppsp._listen).
            error = errors[0].value
            assert error is not None
            raise listenFailure("--stat-listen", self.statDescription, error)

    def _listening(self, port: Any) -> None:
        self._port = port
        host = port.getHost()
        self.peer.statPort = getattr(host, "port", None)
        self.log.info(
            "answering STAT_QUERY on {host}:{port}",
            host=getattr(host, "host", "?"),
            port=self.peer.statPort,
        )
        self.peer.startService()

    def stopService(self) -> "Deferred[None]":
        """
        Say goodbye to the tracker, then close the listener and the
        connections.
        """
        super().stopService()
        d: Deferred[Any] = self.peer.stopService() if self.peer.running else succeed(None)

        def close(_: Any) -> Any:
            port, self._port = self._port, None
            stopped: Deferred[Any] = succeed(None)
            if port is not None:
                stopped = port.stopListening() or succeed(None)
            return stopped.addBoth(lambda _: self.pool.closeCachedConnections())

        return d.addCallback(close)


def makeService(options: Options, reactor: Optional[Any] = None) -> PeerDaemon:
    """
    Build the peer that C{options} describe.

    @param reactor: the reactor to connect, listen and take time with; the
        global reactor when L{None}.
    """
    if reactor is None:
        from twisted.internet import reactor as _reactor

        reactor = _reactor
    http, pool = makeHTTPClient(reactor, options["tls"])
    client = TrackerClient(
        http,
        options["tracker"],
        options["peer-id"],
        reactor,
        codec=options["codec"],
        cer=options["credential"],
        credentialFile=options["cer"],
        timeout=options["timeout"],
    )
    stats = StaticStats(options["stats"])
    peer = PeerService(
        client,
        reactor,
        options["swarms"],
        addresses=options["addresses"],
        statsSource=stats,
        statReportInterval=options["stat-report-interval"],
        findInterval=options["find-interval"] or None,
        peerNum=options["peer-num"],
    )
    endpoint = site = None
    if options["stat-listen"] is not None:
        endpoint = serverFromString(reactor, options["stat-listen"])
        site = statQuerySite(StatQueryResource(options["peer-id"], stats))
    return PeerDaemon(peer, pool, endpoint, site, options["stat-listen"] or "")
