"""
The baseline of the HTTP benchmark: a bare twisted.web resource that
answers every POST with one fixed XML body.

It runs with the same Site settings as the tracker's L{TrackerSite}
(C{parsePOSTFormSubmission=False}, no access log) and sets the same two
response headers, so that the difference between the two servers is what
the tracker does with a request: decode, apply, encode.

    python benchmarks/bare_server.py --port 8081

It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site

#: About 300 bytes: a KEEPALIVE answer with a Reason and padding, the size of
#: a short tracker response.
BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<PPSPTrackerProtocol version="1.0">'
    b"<Response>OK</Response>"
    b"<TransactionID>r1234567.123456</TransactionID>"
    b"<KeepAliveInterval>60</KeepAliveInterval>"
    b"<Reason>a fixed body of about three hundred bytes, the size of a short "
    b"tracker response</Reason>"
    b"</PPSPTrackerProtocol>"
)

CONTENT_TYPE = b"application/ppsp-tracker+xml; charset=utf-8"


class FixedPost(Resource):
    """
    Answer POST at every path with L{BODY}.
    """

    isLeaf = True

    def render_POST(self, request: Any) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE)
        request.setHeader(b"cache-control", b"no-store")
        return BODY


class QuietSite(Site):
    """
    A L{Site} with the tracker's settings: no form parsing of POST bodies,
    no access log.
    """

    def __init__(self, resource: Resource, **kwargs: Any) -> None:
        super().__init__(resource, parsePOSTFormSubmission=False, **kwargs)

    def log(self, request: Any) -> None:
        pass


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    site = QuietSite(FixedPost())
    port: Any = reactor.listenTCP(args.port, site, interface="127.0.0.1")  # type: ignore[attr-defined,arg-type]
    print(f"bare server listening on 127.0.0.1:{port.getHost().port}", flush=True)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main(sys.argv[1:])
