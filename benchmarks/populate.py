"""
Fill a running tracker over HTTP: CONNECT and JOIN every peer of the
benchmark population (L{population}: 1,000 swarms of 50 peers by default),
plus JOIN_CHUNK for the peers that hold chunks, and write one line per
peer for the wrk scripts:

    PeerID AuthToken SwarmID Mode IP Port

Every request comes from this host, so run the tracker with
C{--rate-limit 0 --max-sessions-per-address 0 --max-address-memory 0}.  Messages are built with L{XML_CODEC}; CONNECT answers
(and one JOIN answer in 50) are decoded with it, the others are checked
for HTTP 200 and C{<Response>OK</Response>}; anything else stops the run
with an error.

The client is a minimal HTTP/1.1 client on asyncio streams: C{--connections}
persistent (keep-alive) connections, each sending its requests one after
the other.  It costs the client a small fraction of what C{http.client}
costs (which parses every response header block with the C{email}
package), so that filling the tracker takes well under the peer timeout
(180 s) and the tracker, not the client, sets the pace.

    python benchmarks/populate.py --url http://127.0.0.1:8080/ --out peers.txt
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import List, Optional, Tuple
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from population import BenchPeer, benchPeer  # noqa: E402

from ppsp.codec import XML_CODEC  # noqa: E402
from ppsp.messages import ConnectResponse, ErrorResponse, Request, Response  # noqa: E402


_OK = b"<Response>OK</Response>"


class HTTPError(Exception):
    pass


class Connection:
    """
    One persistent HTTP/1.1 connection that POSTs one message at a time.
    """

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host = host
        self.port = port
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/ppsp-tracker+xml\r\n"
            "Content-Length: "
        ).encode("ascii")
        self.reader: Optional[asyncio.StreamReader] = None
        self.writer: Optional[asyncio.StreamWriter] = None
        self.requests = 0

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    async def post(self, body: bytes) -> Tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(self.head + b"%d\r\n\r\n" % (len(body),) + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        lines = headers.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise HTTPError(f"unexpected Transfer-Encoding: {value!r}")
        if length is None:
            raise HTTPError("response without Content-Length")
        data = await self.reader.readexactly(length)
        self.requests += 1
        return status, data

    async def send(self, request: Request, decode: bool = True) -> Optional[Response]:
        """
        Send one request; check that it got HTTP 200 and OK.

        @param decode: decode the answer with L{XML_CODEC} (else only check
            the status and the C{<Response>OK</Response>} element, which
            saves the client the decoding of peer lists).
        """
        status, data = await self.post(XML_CODEC.encodeRequest(request))
        if decode:
            response: Optional[Response] = XML_CODEC.decodeResponse(data, request.method)
            ok = not isinstance(response, ErrorResponse)
        else:
            response = None
            ok = _OK in data
        if status != 200 or not ok:
            raise HTTPError(
                f"{request.method.value} for {request.peerID}: HTTP {status}: {data!r}"
            )
        return response


async def register(conn: Connection, peer: BenchPeer) -> str:
    """
    CONNECT, JOIN and (if the peer holds chunks) JOIN_CHUNK one peer.

    @return: its AuthToken.
    """
    tid = f"p{peer.index}"
    answer = await conn.send(peer.connect(tid + "c"))
    assert isinstance(answer, ConnectResponse)
    token = answer.authToken
    await conn.send(peer.join(tid + "j", token), decode=peer.index % 50 == 0)
    joinChunk = peer.joinChunk(tid + "k", token)
    if joinChunk is not None:
        await conn.send(joinChunk, decode=False)
    return token


async def populate(
    host: str, port: int, path: str, swarms: int, perSwarm: int, connections: int
) -> Tuple[List[str], int]:
    total = swarms * perSwarm
    lines: List[Optional[str]] = [None] * total
    conns = [Connection(host, port, path) for _ in range(connections)]
    for conn in conns:
        await conn.open()

    async def work(conn: Connection, offset: int) -> None:
        for i in range(offset, total, connections):
            peer = benchPeer(i, perSwarm)
            token = await register(conn, peer)
            address = peer.addresses[0]
            lines[i] = (
                f"{peer.peerID} {token} {peer.swarmID} {peer.mode.value} "
                f"{address.ip} {address.port}"
            )

    try:
        await asyncio.gather(*[work(c, n) for n, c in enumerate(conns)])
    finally:
        for conn in conns:
            conn.close()
    done = [line for line in lines if line is not None]
    assert len(done) == total
    return done, sum(c.requests for c in conns)


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080/")
    parser.add_argument("--swarms", type=int, default=1000)
    parser.add_argument("--per-swarm", type=int, default=50)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--out", required=True, help="the peers file to write")
    args = parser.parse_args(argv)
    url = urlsplit(args.url)
    host, port, path = url.hostname or "127.0.0.1", url.port or 80, url.path or "/"
    started = time.monotonic()
    try:
        lines, requests = asyncio.run(
            populate(host, port, path, args.swarms, args.per_swarm, args.connections)
        )
    except (HTTPError, OSError, asyncio.IncompleteReadError) as e:
        raise SystemExit(f"populate failed: {e}")
    elapsed = time.monotonic() - started
    with open(args.out, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    print(
        f"populated {len(lines)} peers in {args.swarms} swarms: {requests} requests "
        f"in {elapsed:.1f} s ({requests / elapsed:.0f} req/s), all OK; wrote {args.out}",
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
