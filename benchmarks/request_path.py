"""
Where the time of one request goes, in process (no HTTP): the tracker
filled with the population of the HTTP benchmark (1,000 swarms of 50
peers, registered through C{tracker.handle}), then for each method of the
mixed load (same bodies as C{mixed.lua}) the microseconds spent in

  - decode: C{XML_CODEC.decodeRequest(body)},
  - handle: C{tracker.handle(request, origin)} and the result of the
    L{Deferred} it returns, fired already with the memory store (the retry
    cache on, far below its cap, as in a fresh tracker),
  - encode: C{XML_CODEC.encodeResponse(response)}.

Each figure is the median of 10 batches of 1,000 requests, in CPU time
of this process (other processes on the same core do not count).  The weighted
mean uses the weights of C{mixed.lua}; what the HTTP benchmark measures
beyond it (its server CPU per request) is the cost of twisted.web and the
resource.

A second part measures the retry cache as it behaves under a steady load:
C{--rate} KEEPALIVEs per simulated second for C{--seconds} seconds, with
C{tracker.expire()} once a second as L{TrackerService} does, and reports
the cost per request of C{handle} and of C{expire} once the cache is full
(60 s of answers, capped at C{retryCacheSize}).

    python benchmarks/request_path.py [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from inproc import (  # noqa: E402
    ORIGIN,
    WEIGHTS,
    MixedLoad,
    clearRetryCache,
    fired,
    makeTracker,
    register,
    tid,
)
from population import benchPeer  # noqa: E402

from ppsp.codec import XML_CODEC  # noqa: E402
from ppsp.messages import ConnectResponse, ErrorResponse, KeepAliveRequest  # noqa: E402

PER_SWARM = 50


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--swarms", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--rate", type=int, default=3000, help="KEEPALIVEs per simulated second")
    parser.add_argument("--seconds", type=int, default=90)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)

    tracker, clock = makeTracker()
    peers = [benchPeer(i, PER_SWARM) for i in range(args.swarms * PER_SWARM)]
    started = time.perf_counter()
    tokens = register(tracker, peers)
    print(f"registered {len(peers):,} peers in {time.perf_counter() - started:.1f} s", flush=True)
    load = MixedLoad(peers, tokens, PER_SWARM)
    others = load.others
    rnd = load.random
    make = load.make

    decode = XML_CODEC.decodeRequest
    encode = XML_CODEC.encodeResponse
    handle = tracker.handle
    results: Dict[str, Any] = {"population": len(peers), "methods": {}}
    print()
    print(f"{'method':<12} {'decode us':>9} {'handle us':>9} {'encode us':>9} {'total us':>9} {'req B':>6} {'resp B':>7}")
    for method in WEIGHTS:
        stages: Dict[str, List[float]] = {"decode": [], "handle": [], "encode": []}
        sizes: Tuple[int, int] = (0, 0)
        for _ in range(args.batches):
            bodies = [XML_CODEC.encodeRequest(make(method)) for _ in range(args.batch)]
            t0 = time.process_time()
            requests = [decode(b) for b in bodies]
            t1 = time.process_time()
            responses = [fired(handle(r, ORIGIN)) for r in requests]
            t2 = time.process_time()
            encoded = [encode(r) for r in responses]
            t3 = time.process_time()
            for answer in responses:
                if isinstance(answer, ErrorResponse):
                    raise SystemExit(f"{method} got {answer!r}")
            if method == "CONNECT":
                for req, resp in zip(requests, responses):
                    assert isinstance(resp, ConnectResponse)
                    tokens[req.peerID] = resp.authToken
            n = args.batch
            stages["decode"].append(1e6 * (t1 - t0) / n)
            stages["handle"].append(1e6 * (t2 - t1) / n)
            stages["encode"].append(1e6 * (t3 - t2) / n)
            sizes = (
                sum(map(len, bodies)) // n,
                sum(map(len, encoded)) // n,
            )
        med = {k: sorted(v)[len(v) // 2] for k, v in stages.items()}
        total = sum(med.values())
        results["methods"][method] = {
            **{k: round(v, 2) for k, v in med.items()},
            "total": round(total, 2),
            "request_bytes": sizes[0],
            "response_bytes": sizes[1],
        }
        print(
            f"{method:<12} {med['decode']:9.1f} {med['handle']:9.1f} {med['encode']:9.1f} "
            f"{total:9.1f} {sizes[0]:6d} {sizes[1]:7d}",
            flush=True,
        )
        clearRetryCache(tracker)
    weight = sum(WEIGHTS.values())
    mixed = {
        k: sum(WEIGHTS[m] * results["methods"][m][k] for m in WEIGHTS) / weight
        for k in ("decode", "handle", "encode", "total", "response_bytes")
    }
    results["mixed"] = {k: round(v, 2) for k, v in mixed.items()}
    print(
        f"{'mixed':<12} {mixed['decode']:9.1f} {mixed['handle']:9.1f} {mixed['encode']:9.1f} "
        f"{mixed['total']:9.1f} {'':6} {mixed['response_bytes']:7.0f}"
    )

    # The retry cache under a steady load ------------------------------------
    print()
    print(
        f"retry cache under {args.rate:,} KEEPALIVEs per second for {args.seconds} simulated "
        f"seconds (expire() every second; cache cap {tracker.config.retryCacheSize:,}):"
    )
    clearRetryCache(tracker)
    sample = [(p.peerID, tokens[p.peerID]) for p in others[:20000]]
    perSecond = []
    for second in range(args.seconds):
        batch = [
            KeepAliveRequest(tid(), *sample[rnd.randrange(len(sample))])
            for _ in range(args.rate)
        ]
        t0 = time.process_time()
        for keepAlive in batch:
            fired(handle(keepAlive, ORIGIN))
        t1 = time.process_time()
        clock.advance(1)
        fired(tracker.expire())
        t2 = time.process_time()
        perSecond.append((1e6 * (t1 - t0) / args.rate, 1e6 * (t2 - t1) / args.rate, 1e3 * (t2 - t1)))
    early = perSecond[5:30]
    late = perSecond[-20:]

    def avg(rows: List[Tuple[float, float, float]], i: int) -> float:
        return sum(r[i] for r in rows) / len(rows)

    retry = {
        "rate": args.rate,
        "seconds": args.seconds,
        "early_handle_us": round(avg(early, 0), 2),
        "early_expire_us_per_request": round(avg(early, 1), 2),
        "late_handle_us": round(avg(late, 0), 2),
        "late_expire_us_per_request": round(avg(late, 1), 2),
        "late_expire_ms_per_call_max": round(max(r[2] for r in late), 1),
    }
    results["retry_cache"] = retry
    print(
        f"  seconds 5-30 (cache filling): handle {retry['early_handle_us']:.1f} us/request, "
        f"expire {retry['early_expire_us_per_request']:.1f} us/request"
    )
    print(
        f"  last 20 s (cache full, pruned every second): handle {retry['late_handle_us']:.1f} us/request, "
        f"expire {retry['late_expire_us_per_request']:.1f} us/request "
        f"(longest expire() call {retry['late_expire_ms_per_call_max']:.0f} ms)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1:])
