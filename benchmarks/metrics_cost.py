"""
What counting costs a request: the in-process request path through the
tracker's HTTP resource (C{TrackerResource.render} on a real
twisted.web request, so decode, handle, encode and the resource's own
work, without the network and the HTTP parser), with the tracker's
metrics and with metrics whose writers do nothing, in one run, batches
alternating; and the metrics' part measured alone (the two clock reads
and the C{answered} write each request makes).

The tracker holds C{--swarms} swarms of 50 peers; the requests are
KEEPALIVEs (the cheapest request, so the largest share) and FINDs of 30
peers.  Each figure is the median of C{--batches} batches of C{--batch}
requests (after one round to warm up; the garbage collector is off
while a batch runs), in CPU time of this process.  The share is the metrics' cost
alone over the cost of a request with them; a request over HTTP costs
several times the in-process path (docs/performance.rst), so its share
of a whole request is smaller still.

    python benchmarks/metrics_cost.py [--json FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from io import BytesIO
from typing import Any, Callable, Dict, List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from inproc import makeTracker, register, tid, clearRetryCache  # noqa: E402
from population import benchPeer  # noqa: E402
from twisted.web.server import Request  # noqa: E402
from twisted.web.test.requesthelper import DummyChannel  # noqa: E402

from ppsp.codec import XML_CODEC  # noqa: E402
from ppsp.messages import FindRequest, KeepAliveRequest  # noqa: E402
from ppsp.tracker.metrics import TrackerMetrics  # noqa: E402
from ppsp.tracker.resource import TrackerResource  # noqa: E402

PER_SWARM = 50
XML = b"application/ppsp-tracker+xml"


class _NoMetrics(TrackerMetrics):
    """
    Metrics whose writers do nothing: the request path without counting.
    """

    def answered(self, method: str, code: str, seconds: float) -> None:
        pass

    def refused(self, reason: str) -> None:
        pass

    def count(self, event: str, n: int = 1) -> None:
        pass


def _request(body: bytes) -> Request:
    request = Request(DummyChannel())
    request.method = b"POST"
    request.content = BytesIO(body)
    request.requestHeaders.setRawHeaders(b"content-type", [XML])
    return request


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--swarms", type=int, default=200)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--batches", type=int, default=15)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)

    tracker, clock = makeTracker(rateLimit=0)
    peers = [benchPeer(i, PER_SWARM) for i in range(args.swarms * PER_SWARM)]
    tokens = register(tracker, peers)
    rnd = random.Random(1)
    counted = TrackerResource(tracker)
    uncounted = TrackerResource(tracker)
    uncounted.metrics = _NoMetrics(clock)

    makers: Dict[str, Callable[[], Any]] = {
        "KEEPALIVE": lambda: KeepAliveRequest(tid(), p.peerID, tokens[p.peerID]),
        "FIND": lambda: FindRequest(tid(), p.peerID, tokens[p.peerID], swarmID=p.swarmID, peerNum=30),
    }
    results: Dict[str, Any] = {}
    print(f"{'method':<10} {'with us':>8} {'without us':>10} {'metrics us':>10} {'share':>7}")
    for method, make in makers.items():
        times: Dict[str, List[float]] = {"with": [], "without": []}
        for batch in range(args.batches + 1):
            order = [("with", counted), ("without", uncounted)]
            if batch % 2:
                order.reverse()
            for name, resource in order:
                requests = []
                for _ in range(args.batch):
                    p = rnd.choice(peers)
                    requests.append(_request(XML_CODEC.encodeRequest(make())))
                render = resource.render
                gc.collect()
                gc.disable()
                started = time.process_time()
                for request in requests:
                    render(request)
                if batch:  # the first round warms up
                    times[name].append(1e6 * (time.process_time() - started) / args.batch)
                gc.enable()
                clearRetryCache(tracker)
                assert request.code == 200, request.code

        # The metrics' part alone: what render adds per answered request.
        metrics = TrackerMetrics(clock)
        seconds = clock.seconds
        alone = []
        for _ in range(args.batches):
            started = time.process_time()
            for _ in range(args.batch):
                start = seconds()
                metrics.answered(method, "OK", seconds() - start)
            alone.append(1e6 * (time.process_time() - started) / args.batch)

        def median(values: List[float]) -> float:
            return sorted(values)[len(values) // 2]

        withUs, withoutUs, aloneUs = median(times["with"]), median(times["without"]), median(alone)
        share = aloneUs / withUs
        results[method] = {
            "with_us": round(withUs, 2),
            "without_us": round(withoutUs, 2),
            "metrics_us": round(aloneUs, 3),
            "share": round(share, 4),
        }
        print(f"{method:<10} {withUs:8.1f} {withoutUs:10.1f} {aloneUs:10.2f} {100 * share:6.2f}%", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1:])
