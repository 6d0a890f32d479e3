# -*- test-case-name: ppsp.test.test_codec -*-
"""
The encodings of the PPSP tracker protocol, and the choice between them.

A codec (an L{ICodec} provider) turns the message objects of
L{ppsp.messages} into bytes and back.  L{XML_CODEC} is the XML encoding of
PROTOCOL.md sections 2 to 5, L{JSON_CODEC} the JSON encoding of RFC 7846
(PROTOCOL.md section 7).  L{selectCodec} picks the codec of a request from
its C{Content-Type} and, failing that, from its first byte (PROTOCOL.md
section 1).

Codecs are registered by media type and by first byte in a small
registry (L{_registerCodec}).
"""

from __future__ import annotations

import re
from typing import Dict, Iterable, Optional

from ppsp.codec._fields import DecodeError
from ppsp.codec.json import JSON_CONTENT_TYPE, JSONCodec
from ppsp.codec.xml import XML_CONTENT_TYPE, XMLCodec
from ppsp.interfaces import ICodec
from ppsp.messages import ResponseCode

__all__ = [
    "DecodeError",
    "XMLCodec",
    "XML_CODEC",
    "XML_CONTENT_TYPE",
    "JSONCodec",
    "JSON_CODEC",
    "JSON_CONTENT_TYPE",
    "selectCodec",
]

#: The XML codec.
XML_CODEC = XMLCodec()

#: The JSON codec (RFC 7846).
JSON_CODEC = JSONCodec()


# Codecs by lower-case media type (without parameters), and by the first
# non-blank byte of a body, for requests with no or another media type.
_BY_MEDIA_TYPE: Dict[bytes, ICodec] = {}
_BY_FIRST_BYTE: Dict[int, ICodec] = {}

# The first byte that is not white space (nor a UTF-8 byte order mark).
_FIRST = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*(.)", re.DOTALL)


def _registerCodec(codec: ICodec, mediaTypes: Iterable[bytes], firstByte: bytes) -> None:
    """
    Register a codec.

    @param codec: the L{ICodec} provider.
    @param mediaTypes: the media types (no parameters) that select it.
    @param firstByte: the first non-blank byte of a body that selects it
        when the media type does not.
    """
    for mediaType in mediaTypes:
        _BY_MEDIA_TYPE[mediaType.lower()] = codec
    _BY_FIRST_BYTE[firstByte[0]] = codec


_registerCodec(
    XML_CODEC,
    [b"application/ppsp-tracker+xml", b"text/xml", b"application/xml"],
    b"<",
)
_registerCodec(
    JSON_CODEC,
    [b"application/ppsp-tracker+json", b"application/json"],
    b"{",
)


def selectCodec(contentType: Optional[bytes], body: bytes) -> ICodec:
    """
    Choose the codec of a request (PROTOCOL.md section 1).

    The media type of C{contentType} decides, case-insensitively and
    whatever its parameters (a C{charset} parameter is ignored: the body is
    UTF-8).  With no C{Content-Type} or an unknown one, the first byte of
    the body that is not white space decides: C{<} is XML, C{E{lb}} is JSON.

    @param contentType: the request's C{Content-Type} header, or L{None}.
    @param body: the request's body.
    @return: the codec to decode the request with, and to answer in.
    @raise DecodeError: INVALID SYNTAX when nothing selects a codec.
    """
    entry: Optional[ICodec] = None
    if contentType:
        mediaType = contentType.split(b";", 1)[0].strip(b" \t").lower()
        entry = _BY_MEDIA_TYPE.get(mediaType)
    if entry is None:
        match = _FIRST.match(body)
        if match is not None:
            entry = _BY_FIRST_BYTE.get(match.group(1)[0])
        if entry is None:
            raise DecodeError(
                ResponseCode.INVALID_SYNTAX,
                "the body is neither XML nor JSON",
            )
    return entry
