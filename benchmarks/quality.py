"""
How well each built-in peer-selection strategy chooses, in a simulated
swarm (in process: a L{Tracker} on a L{Clock} over a L{MemoryPeerStore},
every request through C{tracker.handle}).

The population (L{buildSwarm}): one VoD swarm of 10,000 peers spread over
50 networks whose sizes follow Zipf's law (the largest holds about 2,200
peers, the smallest about 45); each network is one /8 of public space
(one AS) whose peers sit in /24s of about 20 peers each, so the default /24 locality
sees only part of a network and a CIDR map (one line per network) sees
all of it.  2 % of the peers are SEEDs holding all 2,000 chunks; each
LEECH plays at a PlaybackPosition drawn at random and holds a window of
50 to 400 chunks behind it and 0 to 60 ahead.  Upload bandwidth is drawn
from 256 kbit/s to 100 Mbit/s (skewed low), spare bandwidth is a random
part of it, and ConcurrentLinks is 0 to 40.

For each strategy, 4,000 FINDs (PeerNum 30) from random LEECHes and 1,000
FIND_CHUNKs for the requester's next chunk (PlaybackPosition + 1), and the
figures:

  - same network: the share of listed peers in the requester's network
    (the map's, i.e. its AS);
  - Gini and max/mean: how evenly the FINDs' hand-outs spread over the
    10,000 peers (Gini 0: all equal; 1: one peer gets everything); and
    the Gini over the 200 SEEDs only;
  - seeds: the share of listed peers that are SEEDs;
  - holds next: the share of FIND's peers holding the requester's next
    chunk;
  - run ahead: for FIND_CHUNK, the mean number of consecutive chunks
    from the requested one that a listed peer holds (counted up to 256);
  - bandwidth: the mean upload bandwidth of listed peers over the
    swarm's mean.

Writes the figures as JSON, an SVG plot and an RST table:

    python benchmarks/quality.py [--json FILE] [--svg docs/_static/strategy-quality.svg]
        [--rst docs/_static/strategy-quality.inc]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from inproc import clearRetryCache, fired, makeTracker, tid  # noqa: E402

from ppsp.messages import (  # noqa: E402
    ChunkRange,
    ConnectRequest,
    ConnectResponse,
    ErrorResponse,
    FindChunkRequest,
    FindRequest,
    JoinChunkRequest,
    JoinRequest,
    PeerMode,
    Stat,
)
from ppsp.selection.capacity import CapacitySelector  # noqa: E402
from ppsp.selection.chunks import ChunksSelector  # noqa: E402
from ppsp.selection.composite import CompositeSelector  # noqa: E402
from ppsp.selection.locality import LocalitySelector  # noqa: E402
from ppsp.selection.random import RandomSelector  # noqa: E402
from ppsp.selection.roles import RolesSelector  # noqa: E402
from ppsp.tracker.core import Origin, Tracker  # noqa: E402

SWARM = "vod-1"
CHUNKS = 2000
RUN_CAP = 256

#: The strategies measured, as an operator would write them (C{FILE} is
#: the simulation's network map).
STRATEGIES = [
    "random",
    "roles",
    "locality",
    "locality:map=FILE",
    "capacity",
    "chunks",
    "composite:locality(map=FILE)=2,capacity=1,random=0.2",
    "composite:roles=1,locality(map=FILE)=1,capacity=1,chunks=1,random=0.2",
]


class SimPeer:
    """
    One peer of the simulation, and what the tracker was told about it.
    """

    __slots__ = ("peerID", "ip", "network", "mode", "position", "window", "upload", "token")

    def __init__(
        self, peerID: str, ip: str, network: int, mode: PeerMode,
        position: Optional[int], window: Tuple[int, int], upload: int,
    ) -> None:
        self.peerID = peerID
        self.ip = ip
        self.network = network
        self.mode = mode
        self.position = position
        self.window = window
        self.upload = upload
        self.token = ""

    def holds(self, chunk: int) -> bool:
        return self.window[0] <= chunk <= self.window[1]

    def run(self, chunk: int) -> int:
        if not self.holds(chunk):
            return 0
        return min(self.window[1] - chunk + 1, RUN_CAP)


def networkSizes(total: int, networks: int) -> List[int]:
    """
    Zipf sizes (exponent 1) summing to C{total}.
    """
    weights = [1 / (k + 1) for k in range(networks)]
    scale = total / sum(weights)
    sizes = [max(1, int(w * scale)) for w in weights]
    sizes[0] += total - sum(sizes)
    return sizes


def makePopulation(total: int = 10_000, networks: int = 50, seed: int = 1) -> List[SimPeer]:
    """
    The simulated peers (see the module's documentation).
    """
    rnd = random.Random(seed)
    peers = []
    i = 0
    for k, size in enumerate(networkSizes(total, networks)):
        subnets = max(2, size // 20)
        for j in range(size):
            ip = f"{11 + k}.1.{rnd.randrange(subnets)}.{1 + j % 250}"
            seedPeer = rnd.random() < 0.02
            upload = rnd.choice([256, 512, 1000, 1000, 2000, 2000, 4000, 8000, 20000, 100000])
            if seedPeer:
                peers.append(SimPeer(f"peer{i}", ip, k, PeerMode.SEED, None, (0, CHUNKS - 1), upload))
            else:
                position = rnd.randrange(CHUNKS)
                window = (max(0, position - rnd.randint(50, 400)), min(CHUNKS - 1, position + rnd.randint(0, 60)))
                peers.append(SimPeer(f"peer{i}", ip, k, PeerMode.LEECH, position, window, upload))
            i += 1
    return peers


def writeMap(networks: int, path: str) -> None:
    """
    The network map of the simulation: one /8 per network (an AS).
    """
    with open(path, "w", encoding="utf-8") as f:
        f.write("# simulated networks: one AS per /8\n")
        for k in range(networks):
            f.write(f"{11 + k}.0.0.0/8 AS{64512 + k}\n")


def _send(tracker: Tracker, request: Any, origin: Origin) -> Any:
    response = fired(tracker.handle(request, origin))
    if isinstance(response, ErrorResponse):
        raise RuntimeError(f"{request!r} got {response!r}")
    return response


def buildSwarm(peers: List[SimPeer], seed: int = 7) -> Tuple[Tracker, Any]:
    """
    Register every peer with a fresh tracker: CONNECT from its own address
    with its statistics, JOIN, JOIN_CHUNK, and its PlaybackPosition for the
    swarm.  JOINs ask for one peer, so that registration stays cheap.
    """
    tracker, clock = makeTracker()
    rnd = random.Random(seed)
    for n, p in enumerate(peers):
        origin = Origin(p.ip, 7000)
        stats = (
            Stat("UploadBandwidth", str(p.upload)),
            Stat("AvailBandwidth", str(int(p.upload * rnd.uniform(0.1, 1.0)))),
            Stat("ConcurrentLinks", str(rnd.randint(0, 40))),
        )
        answer = _send(tracker, ConnectRequest(tid(), p.peerID, stats=stats), origin)
        assert isinstance(answer, ConnectResponse)
        p.token = answer.authToken
        joinStats: Tuple[Stat, ...] = ()
        if p.position is not None:
            joinStats = (Stat("PlaybackPosition", str(p.position)),)
        _send(
            tracker,
            JoinRequest(tid(), p.peerID, p.token, swarmID=SWARM, mode=p.mode, peerNum=1, stats=joinStats),
            origin,
        )
        _send(
            tracker,
            JoinChunkRequest(tid(), p.peerID, p.token, swarmID=SWARM, chunks=(ChunkRange(*p.window),)),
            origin,
        )
        if n % 20000 == 19999:
            clearRetryCache(tracker)
    clearRetryCache(tracker)
    return tracker, clock


def makeStrategy(spec: str, mapPath: str, seed: int = 11) -> Any:
    """
    The strategy an operator's C{--selector spec} makes, with a seeded
    random source.
    """
    spec = spec.replace("FILE", mapPath)
    name, _, args = spec.partition(":")
    rng = random.Random(seed)
    if name == "random":
        return RandomSelector()
    if name == "capacity":
        return CapacitySelector.fromArgs(args, random=rng)
    if name == "composite":
        return CompositeSelector.fromArgs(args, random=rng)
    cls: Dict[str, Any] = {"roles": RolesSelector, "locality": LocalitySelector, "chunks": ChunksSelector}
    return cls[name].fromArgs(args, random=rng)


def gini(values: List[float]) -> float:
    """
    The Gini coefficient of non-negative values (0: all equal).
    """
    xs = sorted(values)
    n = len(xs)
    total = sum(xs)
    if not n or not total:
        return 0.0
    cumulative = sum((i + 1) * x for i, x in enumerate(xs))
    return (2 * cumulative) / (n * total) - (n + 1) / n


def measure(
    tracker: Tracker, clock: Any, peers: List[SimPeer], selector: Any,
    finds: int, findChunks: int, seed: int = 3,
) -> Dict[str, Any]:
    """
    Run the FINDs and FIND_CHUNKs with C{selector} and compute the figures.
    """
    tracker.selector = selector
    byID = {p.peerID: p for p in peers}
    leeches = [p for p in peers if p.mode is PeerMode.LEECH]
    seeds = [p for p in peers if p.mode is PeerMode.SEED]
    meanUpload = sum(p.upload for p in peers) / len(peers)
    rnd = random.Random(seed)
    handed = {p.peerID: 0 for p in peers}
    listed = sameNet = seedCount = holdsNext = 0
    upload = 0.0
    for _ in range(finds):
        me = rnd.choice(leeches)
        answer = _send(
            tracker, FindRequest(tid(), me.peerID, me.token, swarmID=SWARM, peerNum=30), Origin(me.ip, 7000)
        )
        clock.advance(0.005)
        assert me.position is not None
        for info in answer.peers:
            other = byID[info.peerID]
            handed[other.peerID] += 1
            listed += 1
            sameNet += other.network == me.network
            seedCount += other.mode is PeerMode.SEED
            holdsNext += other.holds(me.position + 1)
            upload += other.upload
    runs = chunkListed = 0
    for _ in range(findChunks):
        me = rnd.choice(leeches)
        assert me.position is not None
        chunk = min(me.position + 1, CHUNKS - 1)
        answer = _send(
            tracker,
            FindChunkRequest(tid(), me.peerID, me.token, swarmID=SWARM, peerNum=30, chunkID=chunk),
            Origin(me.ip, 7000),
        )
        clock.advance(0.005)
        for info in answer.peers:
            runs += byID[info.peerID].run(chunk)
            chunkListed += 1
    clearRetryCache(tracker)
    counts = list(handed.values())
    mean = sum(counts) / len(counts)
    return {
        "same_network": sameNet / listed,
        "gini": gini([float(c) for c in counts]),
        "max_over_mean": max(counts) / mean,
        # No Gini among seeds that were never listed.
        "seed_gini": (
            gini([float(handed[p.peerID]) for p in seeds])
            if any(handed[p.peerID] for p in seeds)
            else None
        ),
        "seeds": seedCount / listed,
        "holds_next": holdsNext / listed,
        "run_ahead": runs / chunkListed if chunkListed else 0.0,
        "bandwidth": (upload / listed) / meanUpload,
        "peers_per_find": listed / finds,
    }


# Output ---------------------------------------------------------------------

COLUMNS = [
    ("same_network", "same network", "{:.1%}"),
    ("gini", "Gini", "{:.2f}"),
    ("max_over_mean", "max/mean", "{:.1f}"),
    ("seed_gini", "seed Gini", "{:.2f}"),
    ("seeds", "seeds", "{:.1%}"),
    ("holds_next", "holds next", "{:.1%}"),
    ("run_ahead", "run ahead", "{:.0f}"),
    ("bandwidth", "bandwidth", "{:.2f}x"),
]


def rstTable(results: List[Dict[str, Any]]) -> str:
    """
    The figures as an RST list-table.
    """
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - strategy",
    ]
    lines += [f"     - {title}" for _k, title, _f in COLUMNS]
    for r in results:
        lines.append(f"   * - ``{r['strategy']}``")
        lines += [
            f"     - {'n/a' if r['figures'][key] is None else fmt.format(r['figures'][key])}"
            for key, _t, fmt in COLUMNS
        ]
    return "\n".join(lines) + "\n"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


PANELS = [
    ("same_network", "Same network (higher: more local)", 1.0, "{:.0%}"),
    ("gini", "Gini of hand-outs (lower: more even)", 1.0, "{:.2f}"),
    ("holds_next", "FIND: holds the next chunk", 1.0, "{:.0%}"),
    ("run_ahead", f"FIND_CHUNK: chunks ahead (max {RUN_CAP})", float(RUN_CAP), "{:.0f}"),
]

COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def svgPlot(results: List[Dict[str, Any]], title: str) -> str:
    """
    Four panels of horizontal bars, one bar per strategy, drawn as SVG
    with no plotting library.
    """
    labelWidth, barWidth, barHeight, gap = 330, 260, 16, 4
    panelHeight = 28 + len(results) * (barHeight + gap) + 14
    columns = 2
    panelWidth = labelWidth + barWidth + 60
    width = columns * panelWidth
    height = 2 * panelHeight + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">{_esc(title)}</text>',
    ]
    for index, (key, title, scale, fmt) in enumerate(PANELS):
        x0 = (index % columns) * panelWidth + 10
        y0 = 30 + (index // columns) * panelHeight
        out.append(f'<text x="{x0}" y="{y0 + 16}" font-weight="bold">{_esc(title)}</text>')
        for i, r in enumerate(results):
            y = y0 + 28 + i * (barHeight + gap)
            value = float(r["figures"][key])
            w = max(0.0, min(1.0, value / scale)) * barWidth
            out.append(
                f'<text x="{x0 + labelWidth - 6}" y="{y + barHeight - 4}" text-anchor="end">'
                f'{_esc(r["strategy"].replace("FILE", "MAP"))}</text>'
            )
            out.append(
                f'<rect x="{x0 + labelWidth}" y="{y}" width="{barWidth}" height="{barHeight}" fill="#eeeeee"/>'
            )
            out.append(
                f'<rect x="{x0 + labelWidth}" y="{y}" width="{w:.1f}" height="{barHeight}" '
                f'fill="{COLORS[i % len(COLORS)]}"/>'
            )
            out.append(
                f'<text x="{x0 + labelWidth + barWidth + 6}" y="{y + barHeight - 4}">{fmt.format(value)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--peers", type=int, default=10_000)
    parser.add_argument("--networks", type=int, default=50)
    parser.add_argument("--finds", type=int, default=4000)
    parser.add_argument("--find-chunks", type=int, default=1000)
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--svg", help="write the plot here")
    parser.add_argument("--rst", help="write the table here (an RST fragment)")
    args = parser.parse_args(argv)
    peers = makePopulation(args.peers, args.networks)
    with tempfile.TemporaryDirectory() as tmp:
        mapPath = os.path.join(tmp, "networks.map")
        writeMap(args.networks, mapPath)
        results = []
        for spec in STRATEGIES:
            # A fresh swarm for each strategy, so that none inherits the
            # state (partitions, cursors, counts) of another.
            for p in peers:
                p.token = ""
            tracker, clock = buildSwarm(peers)
            selector = makeStrategy(spec, mapPath)
            figures = measure(tracker, clock, peers, selector, args.finds, args.find_chunks)
            results.append({"strategy": spec, "figures": figures})
            print(spec, {k: v if v is None else round(v, 3) for k, v in figures.items()}, flush=True)
    sizes = networkSizes(args.peers, args.networks)
    meta = {
        "peers": args.peers,
        "networks": args.networks,
        "largest_network": max(sizes),
        "smallest_network": min(sizes),
        "seeds": sum(p.mode is PeerMode.SEED for p in peers),
        "finds": args.finds,
        "find_chunks": args.find_chunks,
    }
    print()
    print(rstTable(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"population": meta, "results": results}, f, indent=1)
    if args.svg:
        with open(args.svg, "w", encoding="utf-8") as f:
            f.write(svgPlot(
                results,
                f"Peer-selection strategies in a simulated swarm of {meta['peers']:,} peers"
                f" over {meta['networks']} networks",
            ))
    if args.rst:
        with open(args.rst, "w", encoding="utf-8") as f:
            f.write(
                f".. Written by benchmarks/quality.py: {meta['peers']:,} peers over "
                f"{meta['networks']} networks, {meta['seeds']} SEEDs, {meta['finds']:,} FINDs "
                f"and {meta['find_chunks']:,} FIND_CHUNKs per strategy.\n\n"
            )
            f.write(rstTable(results))


if __name__ == "__main__":
    main(sys.argv[1:])

