"""
The HTTP path in process: the tracker's twisted.web site, built by
C{makeService} with the options of the HTTP benchmark (C{run.py}), and the
bare resource of C{bare_server.py}, each fed the requests of the mixed
load (the bodies of C{mixed.lua}) as raw HTTP/1.1 over one keep-alive
connection on an in-memory transport, with no sockets, no reactor loop and
no load generator.  What it measures is the CPU of twisted.web, the
resource and the tracker per request, without the kernel's share and
without the noise of wrk sharing the machine: a quick, steady figure to
tune the request path with between two runs of C{run.py}.

The tracker holds C{--swarms} swarms of 50 peers (200 by default, 10,000
peers), registered through C{tracker.handle}.  Each figure is the median
of C{--batches} batches of C{--batch} requests, in CPU time of this
process, bare and tracker batches alternating (the median of the
ratios of each tracker batch to the bare batch just before it is given
too: on a shared machine it is the steadier figure); the ratio is bare over
tracker, as in C{run.py} (requests per second are the inverse of CPU per
request at a saturated core).

    python benchmarks/http_path.py [--swarms 200] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import sys
import time
from typing import Any, Callable, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bare_server import FixedPost, QuietSite  # noqa: E402
from inproc import MixedLoad, register  # noqa: E402
from population import benchPeer  # noqa: E402
from request_path import PER_SWARM  # noqa: E402
from twisted.internet.address import IPv4Address  # noqa: E402
from twisted.internet.testing import MemoryReactorClock, StringTransport  # noqa: E402

from ppsp.codec import XML_CODEC  # noqa: E402
from ppsp.messages import KeepAliveRequest  # noqa: E402
from ppsp.tracker.tap import Options, makeService  # noqa: E402

#: What run.py gives twistd besides --listen.
TRACKER_OPTIONS = [
    "--rate-limit", "0", "--max-sessions-per-address", "0", "--max-address-memory", "0",
]

CLIENT = IPv4Address("TCP", "127.0.0.1", 40000)


def raw(body: bytes) -> bytes:
    """
    One HTTP/1.1 keep-alive POST of C{body}, as wrk sends it.
    """
    return (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
        b"Content-Type: application/ppsp-tracker+xml\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )


class Connection:
    """
    One keep-alive connection of a site, on an in-memory transport.
    """

    def __init__(self, site: Any) -> None:
        self.protocol = site.buildProtocol(CLIENT)
        self.transport = StringTransport(peerAddress=CLIENT)
        self.protocol.makeConnection(self.transport)

    def send(self, data: bytes) -> bytes:
        """
        Deliver one request; return what the site wrote back.
        """
        self.protocol.dataReceived(data)
        out = self.transport.value()
        self.transport.clear()
        return out


def trackerSite(reactor: MemoryReactorClock) -> Any:
    """
    The tracker's site as C{twistd ppsp-tracker} builds it for run.py.
    """
    options = Options()
    options.parseOptions(["--listen", "tcp:8080:interface=127.0.0.1"] + TRACKER_OPTIONS)
    service = makeService(options, reactor)
    service.startService()
    [(_port, site, _backlog, _interface)] = reactor.tcpServers
    return service, site


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--swarms", type=int, default=200)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=7)
    parser.add_argument("--profile", help="also profile the tracker's batches into this file")
    args = parser.parse_args(argv)

    reactor = MemoryReactorClock()
    reactor.advance(1_000_000)
    service, site = trackerSite(reactor)
    tracker = service.tracker
    peers = [benchPeer(i, PER_SWARM) for i in range(args.swarms * PER_SWARM)]
    tokens = register(tracker, peers)
    load = MixedLoad(peers, tokens, PER_SWARM)
    make = load.any

    tracked = Connection(site)
    bare = Connection(QuietSite(FixedPost()))
    bareBody = raw(XML_CODEC.encodeRequest(KeepAliveRequest("t1", "peer-1", "x" * 43)))
    times: Dict[str, List[float]] = {"tracker": [], "bare": []}
    profiler = cProfile.Profile() if args.profile else None

    def timed(name: str, run: Callable[[], None]) -> None:
        started = time.process_time()
        run()
        times[name].append(1e6 * (time.process_time() - started) / args.batch)

    for _ in range(args.batches):
        requests = [make() for _ in range(args.batch)]
        bodies = [raw(XML_CODEC.encodeRequest(r)) for r in requests]
        answers: List[bytes] = []

        def runTracker() -> None:
            send = tracked.send
            for data in bodies:
                answers.append(send(data))

        def runBare() -> None:
            send = bare.send
            for _ in range(args.batch):
                send(bareBody)

        timed("bare", runBare)
        if profiler is not None:
            profiler.enable()
        timed("tracker", runTracker)
        if profiler is not None:
            profiler.disable()
        for request, answer in zip(requests, answers):
            if not answer.startswith(b"HTTP/1.1 200 ") or b"<Response>OK</Response>" not in answer:
                raise SystemExit(f"{request!r} got {answer[:300]!r}")
            if request.method.value == "CONNECT":
                token = answer.split(b"<AuthToken>")[1].split(b"</AuthToken>")[0]
                load.tokens[request.peerID] = token.decode("ascii")
        reactor.advance(1)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    print(f"population {len(peers):,} peers; {args.batches} batches of {args.batch:,} requests")
    print(f"bare     {med['bare']:7.1f} us/request  (batches: {', '.join(f'{t:.0f}' for t in times['bare'])})")
    print(f"tracker  {med['tracker']:7.1f} us/request  (batches: {', '.join(f'{t:.0f}' for t in times['tracker'])})")
    pairs = sorted(b / t for b, t in zip(times["bare"], times["tracker"]))
    print(f"ratio bare/tracker: {med['bare'] / med['tracker']:.3f} of the medians, "
          f"{pairs[len(pairs) // 2]:.3f} the median of each batch's ratio to the bare batch before it")
    if profiler is not None:
        profiler.dump_stats(args.profile)
        print(f"profile of the tracker's batches: {args.profile}")


if __name__ == "__main__":
    main(sys.argv[1:])
