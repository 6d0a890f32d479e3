# -*- test-case-name: ppsp.test.test_state -*-
"""
The state file (C{--state PATH}): a tracker's state written to disk and
read back at start, so that a restart loses no session.

What it holds: every registered peer (its AuthToken, observed and
announced addresses, StatPort, connect time, liveness deadline,
statistics and what authenticated its session), each with its
memberships (mode, ExpireTime, chunk set, statistics); every swarm (with
whether the operator provisioned it at run time, and since when it is
empty); the bans made through the admin API; the PeerIDs and credentials
revoked through it.  What the operator's files give (the swarms file,
the revocation file, the ban-list file) is read from them at start, not
from the state.

The format, version 1, is JSON lines in UTF-8, one object a line::

    {"format":"ppsp-tracker-state","version":1,"written":1767225600.0}
    {"swarm":"live-1","provisioned":true,"emptySince":null}
    {"peer":"peer-a","token":"…","ip":"198.51.100.7","port":40000,…,"swarms":{…}}
    {"ban":"192.0.2.0/24","until":null}
    {"revoked":"peer:mallory"}
    {"end":true,"peers":1,"swarms":1,"bans":1,"revoked":1}

Times are absolute, in the tracker's clock seconds (POSIX time for a
real reactor).  The first line names the format and its version; the
last one counts the records, so that a file cut anywhere, even at the
end of a line, is refused.  C{docs/running.rst} ("State file") documents
every key.

The state is read and written through the store's interface only
(L{IPeerStore<ppsp.interfaces.IPeerStore>}): it is read with C{swarms()}
and C{peers()}, and restored with C{addSwarm}, C{register} and C{join}
(each with the statistics it keeps) and C{setChunks}, so that the store's
accounts (what each peer and address holds, the deadlines) are rebuilt by
the same code as at run time, whatever the store.
"""

from __future__ import annotations

import gc
import hashlib
import ipaddress
import json
import math
import os
import secrets
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import (
    IO,
    Any,
    Callable,
    Collection,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Set,
    Tuple,
)

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredLock, fail, maybeDeferred, succeed
from twisted.internet.interfaces import IReactorThreads, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure

from ppsp.messages import AddressType, ChunkRange, PeerAddress, PeerMode
from ppsp.tracker.credentials import Revocations, SessionIdentity
from ppsp.tracker.core import Tracker
from ppsp.tracker.values import PeerState, Session, StatsUpdate, StatValue

__all__ = [
    "FORMAT",
    "VERSION",
    "DEFAULT_STATE_INTERVAL",
    "StateError",
    "StateLoaded",
    "SavedState",
    "dumpState",
    "readState",
    "restoreState",
    "loadState",
    "StateFile",
    "StateService",
    "loadAtStart",
]

#: The value of the first line's C{format} key.
FORMAT = "ppsp-tracker-state"
#: The version of the format this module writes and reads.
VERSION = 1
#: Seconds between two periodic writes by default (C{--state-interval}).
DEFAULT_STATE_INTERVAL = 60.0

_MAX_CHUNK = 2**64 - 1
_MODES = {mode.value: mode for mode in PeerMode}
_TYPES = {kind.value: kind for kind in AddressType}
# Enum members by value, and values by member, without the enum's slow
# attribute lookup.
_MODE_TEXT = {mode: mode.value for mode in PeerMode}
_TYPE_TEXT = {kind: kind.value for kind in AddressType}
_NO_STATS: Mapping[str, StatValue] = {}
_NO_UPDATE: StatsUpdate = {}


def _plain(value: object) -> object:
    """
    A mapping that is not a L{dict} (a store's statistics may be one), as
    a L{dict} for the encoder.
    """
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


_ENCODE = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_plain
).encode


class StateError(Exception):
    """
    A state file that cannot be used: unreadable, empty, cut short, not
    JSON, not a tracker's state file, of a version this tracker does not
    read, or holding a record that is not valid.  Its text is one line
    that names the file (when known) and, for a bad record, its line.
    """


@dataclass(frozen=True)
class StateLoaded:
    """
    What L{loadState} restored.

    @ivar written: when the state was written (clock seconds).
    @ivar peers: the sessions restored.
    @ivar swarms: the swarms restored.
    @ivar members: the memberships restored.
    @ivar droppedPeers: sessions that expired while the tracker was down
        (their liveness deadline or their credential ran out), or that a
        revocation in force now ends.
    @ivar droppedMembers: memberships of restored or expired sessions that
        ended while the tracker was down (their ExpireTime passed, their
        session expired, or their swarm no longer exists).
    @ivar droppedSwarms: swarms forgotten at load: empty for longer than
        the empty-swarm lifetime, or created on JOIN while only
        provisioned swarms may exist now.
    """

    written: float
    peers: int
    swarms: int
    members: int
    droppedPeers: int
    droppedMembers: int
    droppedSwarms: int


@contextmanager
def _collectorPaused() -> Iterator[None]:
    """
    Pause the cyclic garbage collector while the state is read or written
    (as far as the store answers at once): both make hundreds of thousands
    of objects that stay for a while, which the collector would walk again
    and again, with everything else, for nothing.  Pauses nest.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


# Writing ---------------------------------------------------------------------


def dumpState(
    tracker: Tracker,
    fileSwarms: Collection[str] = (),
    fileRevocations: Optional[Revocations] = None,
) -> "Deferred[bytes]":
    """
    The tracker's state, in the state file's format, read from its store
    (L{IPeerStore.swarms<ppsp.interfaces.IPeerStore.swarms>}, then
    L{IPeerStore.peers<ppsp.interfaces.IPeerStore.peers>}) and serialised
    in the reactor's thread.

    @param fileSwarms: the SwarmIDs the operator's swarms file provisions:
        written as not provisioned (at start the file says again whether
        they are).
    @param fileRevocations: what the operator's revocation file revokes:
        left out (at start the file is read again).
    @return: a L{Deferred} firing with the file's bytes.
    """

    def data(dumped: Tuple[bytes, int]) -> bytes:
        return dumped[0]

    with _collectorPaused():
        dumped = Deferred.fromCoroutine(_dump(tracker, fileSwarms, fileRevocations))
    return dumped.addCallback(data)


async def _dump(
    tracker: Tracker, fileSwarms: Collection[str], fileRevocations: Optional[Revocations]
) -> Tuple[bytes, int]:
    """
    L{dumpState}, with the number of sessions written.
    """
    store = tracker.store
    written = tracker.clock.seconds()
    swarms = await store.swarms()
    peers = await store.peers()
    encode = _ENCODE
    lines = [encode({"format": FORMAT, "version": VERSION, "written": written})]
    listed: Set[str] = set()
    for swarm in swarms:
        swarmID = swarm.swarmID
        lines.append(
            encode(
                {
                    "swarm": swarmID,
                    "provisioned": bool(swarm.provisioned) and swarmID not in fileSwarms,
                    "emptySince": swarm.emptySince,
                }
            )
        )
        listed.add(swarmID)
    peerLines = []
    for peer in peers:
        for swarmID in peer.swarms:
            if swarmID not in listed:
                # A swarm a peer joined after the store answered swarms():
                # a store whose two reads are not one snapshot.
                lines.append(encode({"swarm": swarmID, "provisioned": False, "emptySince": None}))
                listed.add(swarmID)
        peerLines.append(encode(_peerRecord(peer)))
    lines += peerLines
    banCount = 0
    for ban in tracker.bans.entries():
        if ban.source == "api":
            lines.append(encode({"ban": str(ban.network), "until": ban.until}))
            banCount += 1
    revoked = tracker.revocations
    if fileRevocations is not None:
        revoked = revoked - fileRevocations
    entries = ["peer:" + peerID for peerID in sorted(revoked.peerIDs)]
    entries += sorted(revoked.fingerprints)
    for entry in entries:
        lines.append(encode({"revoked": entry}))
    lines.append("")
    body = "\n".join(lines).encode("utf-8")
    end = {
        "end": True,
        "peers": len(peerLines),
        "swarms": len(listed),
        "bans": banCount,
        "revoked": len(entries),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    return body + encode(end).encode("utf-8") + b"\n", len(peerLines)


def _peerRecord(peer: PeerState) -> Dict[str, Any]:
    """
    The record of one peer, with its memberships; keys whose value is
    none or empty are left out.
    """
    record: Dict[str, Any] = {
        "peer": peer.peerID,
        "token": peer.token,
        "ip": peer.observedIP,
        "port": peer.observedPort,
        "connectedAt": peer.connectedAt,
        "deadline": peer.deadline,
    }
    if peer.addresses:
        types = _TYPE_TEXT
        record["addresses"] = [[a.ip, a.port, types[a.type], a.priority] for a in peer.addresses]
    if peer.statPort is not None:
        record["statPort"] = peer.statPort
    if peer.stats:
        record["stats"] = peer.stats
    identity = peer.identity
    if isinstance(identity, SessionIdentity):
        record["identity"] = {
            "peerID": identity.peerID,
            "expires": identity.expires,
            "fingerprint": identity.fingerprint,
            "certificate": None if identity.certificate is None else identity.certificate.hex(),
        }
    swarms: Dict[str, Any] = {}
    for swarmID, member in peer.swarms.items():
        entry: Dict[str, Any] = {"mode": _MODE_TEXT[member.mode]}
        if member.expireAt is not None:
            entry["expireAt"] = member.expireAt
        if member.chunks:
            entry["chunks"] = [[r.start, r.end] for r in member.chunks]
        if member.stats:
            entry["stats"] = member.stats
        swarms[swarmID] = entry
    if swarms:
        record["swarms"] = swarms
    return record


# Reading ---------------------------------------------------------------------


def _number(value: Any, what: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a number")
    return float(value)


def _optionalNumber(value: Any, what: str) -> Optional[float]:
    return None if value is None else _number(value, what)


def _integer(value: Any, what: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{what} must be a whole number from {low} to {high}")
    return value


def _text(value: Any, what: str) -> str:
    if type(value) is not str or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return value


def _stats(value: Any, what: str) -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    if type(value) is not dict:
        raise ValueError(f"{what} must be an object")
    for name, stat in value.items():
        if type(stat) not in (int, str):
            raise ValueError(f"{what}: {name!r} must be a number or a string")
    return value


def _chunks(value: Any) -> Tuple[ChunkRange, ...]:
    if type(value) is not list:
        raise ValueError("chunks must be an array")
    ranges = []
    after = -2
    for item in value:
        if type(item) is not list or len(item) != 2:
            raise ValueError("a chunk range must be [start, end]")
        start = _integer(item[0], "a chunk ID", 0, _MAX_CHUNK)
        end = _integer(item[1], "a chunk ID", start, _MAX_CHUNK)
        if start <= after + 1:
            raise ValueError("chunk ranges must be sorted and merged")
        ranges.append(ChunkRange(start, end))
        after = end
    return tuple(ranges)


def _addresses(value: Any) -> Tuple[PeerAddress, ...]:
    if type(value) is not list:
        raise ValueError("addresses must be an array")
    addresses = []
    for item in value:
        if type(item) is not list or len(item) != 4:
            raise ValueError("an address must be [ip, port, type, priority]")
        ip = _text(item[0], "an address's IP")
        port = _integer(item[1], "an address's port", 0, 65535)
        kind = _TYPES.get(item[2])
        if kind is None:
            raise ValueError(f"unknown address type {item[2]!r}")
        priority = None if item[3] is None else _integer(item[3], "a priority", -(2**63), 2**63)
        addresses.append(PeerAddress(ip, port, kind, priority))
    return tuple(addresses)


def _identity(value: Any) -> Optional[SessionIdentity]:
    if value is None:
        return None
    if type(value) is not dict:
        raise ValueError("identity must be an object")
    peerID = value.get("peerID")
    fingerprint = value.get("fingerprint")
    certificate = value.get("certificate")
    return SessionIdentity(
        None if peerID is None else _text(peerID, "identity.peerID"),
        _optionalNumber(value.get("expires"), "identity.expires"),
        None if fingerprint is None else _text(fingerprint, "identity.fingerprint"),
        None if certificate is None else bytes.fromhex(_text(certificate, "identity.certificate")),
    )


@dataclass
class _Member:
    swarmID: str
    mode: PeerMode
    expireAt: Optional[float]
    chunks: Tuple[ChunkRange, ...]
    stats: Optional[Dict[str, Any]]


@dataclass
class _Peer:
    peerID: str
    token: str
    ip: str
    port: int
    addresses: Tuple[PeerAddress, ...]
    statPort: Optional[int]
    connectedAt: float
    deadline: float
    stats: Optional[Dict[str, Any]]
    identity: Optional[SessionIdentity]
    members: List[_Member]


@dataclass
class _Swarm:
    swarmID: str
    provisioned: bool
    emptySince: Optional[float]


def _peer(record: Dict[str, Any]) -> _Peer:
    members = []
    swarms = record.get("swarms", {})
    if type(swarms) is not dict:
        raise ValueError("swarms must be an object")
    for swarmID, entry in swarms.items():
        if type(entry) is not dict:
            raise ValueError("a membership must be an object")
        mode = _MODES.get(entry.get("mode"))  # type: ignore[arg-type]
        if mode is None:
            raise ValueError(f"unknown mode {entry.get('mode')!r}")
        members.append(
            _Member(
                _text(swarmID, "a SwarmID"),
                mode,
                _optionalNumber(entry.get("expireAt"), "expireAt"),
                _chunks(entry.get("chunks", [])),
                _stats(entry.get("stats"), "a membership's stats"),
            )
        )
    statPort = record.get("statPort")
    return _Peer(
        _text(record["peer"], "peer"),
        _text(record["token"], "token"),
        _text(record["ip"], "ip"),
        _integer(record["port"], "port", 0, 65535),
        _addresses(record.get("addresses", [])),
        None if statPort is None else _integer(statPort, "statPort", 1, 65535),
        _number(record["connectedAt"], "connectedAt"),
        _number(record["deadline"], "deadline"),
        _stats(record.get("stats"), "stats"),
        _identity(record.get("identity")),
        members,
    )


def _decodeLines(lines: List[bytes]) -> List[Any]:
    """
    Decode one JSON value a line, all in one call of the decoder (a call
    per line costs more than the decoding).

    @raise ValueError: a line is not UTF-8 or not one JSON value (the
        message names it).
    """
    try:
        values = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        values = None
    if type(values) is list and len(values) == len(lines):
        return values
    # Find the culprit.
    for number, line in enumerate(lines, 2):
        try:
            json.loads(line)
        except ValueError as e:
            raise ValueError(f"line {number}: not JSON ({e})") from None
    raise ValueError("a line holds more than one JSON value")


@dataclass(frozen=True)
class SavedState:
    """
    The records of a state file, checked whole (L{readState}), to restore
    into a tracker (L{restoreState}).

    @ivar written: when the state was written (clock seconds).
    """

    written: float
    swarms: Tuple[_Swarm, ...]
    peers: Tuple[_Peer, ...]
    bans: Tuple[Tuple[str, Optional[float]], ...]
    revoked: Revocations


def _records(data: bytes) -> SavedState:
    """
    Parse and check the whole file before anything is applied: its first
    line names the format and version, its last line is the end record,
    whose checksum matches every byte before it and whose counts match
    the records; every record is valid.

    @raise ValueError: the file is not a valid state file (the message
        says why, and on which line).
    """
    if not data:
        raise ValueError("the file is empty")
    lines = data.split(b"\n")
    try:
        header = json.loads(lines[0])
    except ValueError:
        header = None
    if type(header) is not dict or header.get("format") != FORMAT:
        raise ValueError("not a ppsp tracker state file (its first line does not name the format)")
    if header.get("version") != VERSION:
        raise ValueError(
            f"state file version {header.get('version')!r} is not supported "
            f"(this tracker reads version {VERSION})"
        )
    written = _number(header.get("written"), "line 1: written")
    # The file ends with the end record and a line feed: lines[-1] is empty.
    try:
        end = json.loads(lines[-2]) if len(lines) > 2 and not lines[-1] else None
    except ValueError:
        end = None
    if type(end) is not dict or end.get("end") is not True:
        raise ValueError("the file is cut short (it does not end with its end record)")
    body = data[: len(data) - len(lines[-2]) - 1]
    if end.get("sha256") != hashlib.sha256(body).hexdigest():
        raise ValueError("the end record's checksum does not match: the file is damaged")
    swarms: Dict[str, _Swarm] = {}
    peers: Dict[str, _Peer] = {}
    bans: List[Tuple[str, Optional[float]]] = []
    peerIDs: Set[str] = set()
    fingerprints: Set[str] = set()
    revoked = 0
    records = _decodeLines(lines[1:-2])
    for number, record in enumerate(records, 2):
        try:
            if type(record) is not dict:
                raise ValueError("not a JSON object")
            if "peer" in record:
                peer = _peer(record)
                if peer.peerID in peers:
                    raise ValueError(f"peer {peer.peerID!r} is listed twice")
                for member in peer.members:
                    if member.swarmID not in swarms:
                        raise ValueError(f"swarm {member.swarmID!r} is not listed before")
                peers[peer.peerID] = peer
            elif "swarm" in record:
                swarmID = _text(record["swarm"], "swarm")
                if swarmID in swarms:
                    raise ValueError(f"swarm {swarmID!r} is listed twice")
                provisioned = record["provisioned"]
                if type(provisioned) is not bool:
                    raise ValueError("provisioned must be true or false")
                swarms[swarmID] = _Swarm(
                    swarmID, provisioned, _optionalNumber(record["emptySince"], "emptySince")
                )
            elif "ban" in record:
                network = _text(record["ban"], "ban")
                ipaddress.ip_network(network)
                bans.append((network, _optionalNumber(record["until"], "until")))
            elif "revoked" in record:
                peerID, fingerprint = Revocations.parseEntry(_text(record["revoked"], "revoked"))
                if peerID is not None:
                    peerIDs.add(peerID)
                if fingerprint is not None:
                    fingerprints.add(fingerprint)
                revoked += 1
            else:
                raise ValueError("not a record of this format")
        except (KeyError, TypeError, ValueError) as e:
            reason = f"missing {e}" if isinstance(e, KeyError) else str(e)
            raise ValueError(f"line {number}: {reason}") from None
    counts = (end.get("peers"), end.get("swarms"), end.get("bans"), end.get("revoked"))
    if counts != (len(peers), len(swarms), len(bans), revoked):
        raise ValueError("the end record's counts do not match the records: the file is damaged")
    return SavedState(
        written,
        tuple(swarms.values()),
        tuple(peers.values()),
        tuple(bans),
        Revocations(peerIDs, fingerprints),
    )


def readState(data: bytes) -> SavedState:
    """
    Read and check a whole state file that L{dumpState} wrote, without
    applying anything.

    @raise StateError: the data is not a valid state file (one line that
        says why).
    """
    with _collectorPaused():
        try:
            return _records(data)
        except ValueError as e:
            raise StateError(str(e)) from None


def restoreState(tracker: Tracker, saved: SavedState) -> "Deferred[StateLoaded]":
    """
    Restore a state read by L{readState} into a tracker that has no
    session yet (it holds only the swarms its config provisions), through
    the store's writes (L{IPeerStore<ppsp.interfaces.IPeerStore>}:
    C{addSwarm}, C{register}, C{join}, C{setChunks}), so that its accounts
    and deadlines are those of the same state built by requests: every
    session with its AuthToken, addresses, StatPort, times, identity and
    statistics, every membership with its mode, ExpireTime, chunk set and
    statistics, every swarm with whether it is provisioned and since when
    it is empty.

    Whatever expired while the tracker was down, by its clock now, is
    dropped: sessions past their liveness deadline or their credential's
    expiry, memberships past their ExpireTime, swarms that were not
    provisioned and have been empty for longer than the empty-swarm
    lifetime.  A swarm created on JOIN (or provisioned by the swarms file
    then) is dropped with its memberships when only provisioned swarms
    exist now and it is not one of them, as reading the swarms file again
    would.  The revocations in force (the tracker's, plus those the state
    holds) end the sessions they revoke.

    @return: a L{Deferred} firing with what was restored, or failing with
        L{ValueError} when the tracker has sessions already (then nothing
        is applied).
    """
    with _collectorPaused():
        return Deferred.fromCoroutine(_restore(tracker, saved))


def loadState(tracker: Tracker, data: bytes) -> "Deferred[StateLoaded]":
    """
    Read a state file that L{dumpState} wrote (L{readState}) and restore it
    into C{tracker} (L{restoreState}).  Nothing is applied unless the whole
    file is valid.

    @return: a L{Deferred} firing with what was restored, or failing with
        L{StateError} when the data is not a valid state file (one line
        that says why), or with L{ValueError} when the tracker has
        sessions already.
    """
    with _collectorPaused():
        try:
            saved = readState(data)
        except StateError:
            return fail()
        return restoreState(tracker, saved)


async def _restore(tracker: Tracker, saved: SavedState) -> StateLoaded:
    store = tracker.store
    await tracker.ready
    registered, _swarms = await store.counts()
    if registered:
        raise ValueError("the tracker already has sessions")
    now = tracker.clock.seconds()
    lifetime = tracker.config.emptySwarmLifetime
    provisioned = tracker.provisionedSwarms
    # What survives, before anything is applied: a swarm's emptySince
    # depends on whether any of its members does.
    gone = {
        swarm.swarmID
        for swarm in saved.swarms
        if tracker.provisionedOnly and not swarm.provisioned and swarm.swarmID not in provisioned
    }
    live: Dict[str, int] = {}
    lastEnd: Dict[str, float] = {}
    keep: List[_Peer] = []
    droppedPeers = droppedMembers = 0
    for peer in saved.peers:
        sessionEnd = peer.deadline
        identity = peer.identity
        if identity is not None and identity.expires is not None:
            sessionEnd = min(sessionEnd, identity.expires)
        if sessionEnd > now:
            keep.append(peer)
        else:
            droppedPeers += 1
        for member in peer.members:
            swarmID = member.swarmID
            ends = sessionEnd if member.expireAt is None else min(sessionEnd, member.expireAt)
            if ends > now and swarmID not in gone:
                live[swarmID] = live.get(swarmID, 0) + 1
            else:
                droppedMembers += 1
                ended = min(ends, now)
                if ended > lastEnd.get(swarmID, -math.inf):
                    lastEnd[swarmID] = ended
    restored = droppedSwarms = 0
    for swarm in saved.swarms:
        swarmID = swarm.swarmID
        if swarmID in gone:
            droppedSwarms += 1
            continue
        emptySince = now
        if not live.get(swarmID):
            candidates = [t for t in (swarm.emptySince, lastEnd.get(swarmID)) if t is not None]
            if candidates:
                emptySince = max(candidates)
            if not swarm.provisioned and swarmID not in provisioned:
                if emptySince + lifetime <= now:
                    droppedSwarms += 1
                    gone.add(swarmID)
                    continue
        await store.addSwarm(swarmID, swarm.provisioned, emptySince)
        if swarm.provisioned:
            await tracker.provisionSwarm(swarmID)
        restored += 1
    members = 0
    for peer in keep:
        peerID = peer.peerID
        deadline = peer.deadline
        await store.register(
            Session(
                peerID,
                peer.token,
                peer.ip,
                peer.port,
                peer.addresses,
                peer.statPort,
                peer.connectedAt,
                deadline,
                peer.identity,
            ),
            peer.stats or _NO_STATS,
        )
        for member in peer.members:
            swarmID = member.swarmID
            if member.expireAt is not None and member.expireAt <= now or swarmID in gone:
                continue
            await store.join(
                peerID,
                swarmID,
                member.mode,
                member.expireAt,
                {swarmID: member.stats} if member.stats else _NO_UPDATE,
                deadline,
                now,
            )
            if member.chunks:
                await store.setChunks(peerID, swarmID, member.chunks, deadline)
            members += 1
    for network, until in saved.bans:
        if until is None:
            tracker.bans.ban(network)
        elif until > now:
            tracker.bans.ban(network, until - now)
    keptPeers = len(keep)
    if len(saved.revoked) or len(tracker.revocations):
        ended = await tracker.setRevocations(tracker.revocations | saved.revoked)
        droppedPeers += ended
        keptPeers -= ended
    return StateLoaded(
        written=saved.written,
        peers=keptPeers,
        swarms=restored,
        members=members,
        droppedPeers=droppedPeers,
        droppedMembers=droppedMembers,
        droppedSwarms=droppedSwarms,
    )


# The file --------------------------------------------------------------------


class StateFile:
    """
    The state file on disk.

    @ivar path: its path.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> Optional[bytes]:
        """
        The file's bytes, or L{None} when it does not exist.

        @raise OSError: it exists but cannot be read.
        """
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def write(self, data: bytes) -> None:
        """
        Replace the file with C{data} atomically: write a new file in the
        same directory, created with mode 0600 (it holds AuthTokens),
        flush it to the disk (C{fsync}), rename it over the file, and
        flush the directory, so that after a crash the file is either the
        old one or the new one, whole.  On failure the new file is removed
        and the old one is left as it was.  Blocks on the disk: call it
        from a thread.

        @raise OSError: the write failed.
        """
        path = os.path.abspath(self.path)
        directory, name = os.path.split(path)
        temporary = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
            0o600,
        )
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
        directoryFD = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(directoryFD)
        finally:
            os.close(directoryFD)

    def parse(self) -> Optional[SavedState]:
        """
        Read the file and check it whole (L{readState}), applying nothing.

        @return: its records, or L{None} when the file does not exist (a
            first start).
        @raise StateError: the file cannot be read or is not a valid state
            file, or it does not exist and its directory does not either;
            its text names the file.
        """
        try:
            data = self.read()
        except OSError as e:
            raise StateError(f"cannot read the state file {self.path}: {e.strerror or e}") from None
        if data is None:
            directory = os.path.dirname(os.path.abspath(self.path))
            if not os.path.isdir(directory):
                raise StateError(
                    f"cannot write the state file {self.path}: "
                    f"the directory {directory} does not exist"
                )
            return None
        try:
            return readState(data)
        except StateError as e:
            raise StateError(f"cannot use the state file {self.path}: {e}") from None

    def load(self, tracker: Tracker) -> "Deferred[Optional[StateLoaded]]":
        """
        Read the file into C{tracker} (L{parse}, then L{restoreState}).

        @return: a L{Deferred} firing with what was restored, or with
            L{None} when the file does not exist (a first start); it fails
            with L{StateError} (see L{parse}) when the file cannot be used,
            and then nothing is applied.
        """
        with _collectorPaused():
            return Deferred.fromCoroutine(self._load(tracker))

    async def _load(self, tracker: Tracker) -> Optional[StateLoaded]:
        saved = self.parse()
        if saved is None:
            return None
        return await restoreState(tracker, saved)


def loadAtStart(
    tracker: Tracker, stateFile: StateFile, stderr: Optional[IO[str]] = None
) -> "Deferred[Optional[StateLoaded]]":
    """
    Load the state file at start-up, for C{twistd ppsp-tracker --state}:
    read and check it here, at once (L{StateFile.parse}): when it cannot be
    used, write one line that names it and why to C{stderr} (the
    process's by default) and exit with status 1, before anything
    listens.  Then restore it (L{restoreState}) and log what was restored
    (or that there was no file).

    @return: a L{Deferred} firing with what was restored (L{None} without a
        file); it fails, after logging why, when the store failed to take
        the state.
    @raise SystemExit: with status 1, when the file cannot be used.
    """
    with _collectorPaused():
        return _loadAtStart(tracker, stateFile, stderr)


def _loadAtStart(
    tracker: Tracker, stateFile: StateFile, stderr: Optional[IO[str]]
) -> "Deferred[Optional[StateLoaded]]":
    try:
        saved = stateFile.parse()
    except StateError as e:
        (stderr if stderr is not None else sys.stderr).write(
            f"ppsp-tracker: {e}; not started (move the file away to start without the state)\n"
        )
        raise SystemExit(1) from None
    log = StateService.log
    if saved is None:
        log.info(
            "state file {path} does not exist: starting with no state", path=stateFile.path
        )
        return succeed(None)

    def logged(loaded: StateLoaded) -> StateLoaded:
        log.info(
            "state loaded from {path} (written {age:.0f} s ago): {peers} session(s), "
            "{members} membership(s), {swarms} swarm(s); dropped what expired meanwhile: "
            "{droppedPeers} session(s), {droppedMembers} membership(s), {droppedSwarms} swarm(s)",
            path=stateFile.path,
            age=max(0.0, tracker.clock.seconds() - loaded.written),
            peers=loaded.peers,
            members=loaded.members,
            swarms=loaded.swarms,
            droppedPeers=loaded.droppedPeers,
            droppedMembers=loaded.droppedMembers,
            droppedSwarms=loaded.droppedSwarms,
        )
        return loaded

    def failed(failure: Failure) -> Failure:
        log.failure(
            "state file {path} not restored: the store failed to take it",
            failure,
            path=stateFile.path,
        )
        return failure

    return restoreState(tracker, saved).addCallbacks(logged, failed)


# The service -------------------------------------------------------------------


class StateService(Service):
    """
    Writes a tracker's state to its L{StateFile} every C{interval} seconds
    and once more when it stops (or earlier, when L{saveAtStop} runs as a
    stop callback of L{GracefulStop<ppsp.tracker.drain.GracefulStop>},
    right after the drain).

    Each write reads the state from the store and serialises it in the
    reactor's thread (L{dumpState}), then writes the bytes in a thread of
    the reactor's pool when the clock is a reactor with threads, so that
    the disk does not stall the reactor (synchronously otherwise, as on a
    L{Clock<twisted.internet.task.Clock>}).  Writes happen one at a time:
    a write asked for while another is in progress reads the state once
    that one is written.  A write that fails is logged and the old file
    stays; the next one tries again.

    @param tracker: the tracker whose state is written.
    @param stateFile: where.
    @param interval: seconds between two writes; 0 writes only at stop.
    @param clock: the clock of the timer (and, when it has threads, the
        reactor that writes); the tracker's by default.
    @param fileSwarms: returns the SwarmIDs the swarms file provisions
        now (see L{dumpState}).
    @param fileRevocations: returns what the revocation file revokes now
        (see L{dumpState}).
    """

    log = Logger()

    def __init__(
        self,
        tracker: Tracker,
        stateFile: StateFile,
        interval: float = DEFAULT_STATE_INTERVAL,
        clock: Optional[IReactorTime] = None,
        fileSwarms: Optional[Callable[[], Collection[str]]] = None,
        fileRevocations: Optional[Callable[[], Revocations]] = None,
    ) -> None:
        self.tracker = tracker
        self.stateFile = stateFile
        self.interval = interval
        self.clock = clock if clock is not None else tracker.clock
        self._fileSwarms = fileSwarms
        self._fileRevocations = fileRevocations
        self._loop = LoopingCall(self.save)
        self._loop.clock = self.clock
        self._lock = DeferredLock()
        self._saved = False

    def startService(self) -> None:
        """
        Start the periodic writes (none with an interval of 0).
        """
        super().startService()
        self._saved = False
        if self.interval > 0:
            self._loop.start(self.interval, now=False)

    def save(self) -> "Deferred[bool]":
        """
        Read the state and write it (after the writes still in progress).

        @return: a L{Deferred} that fires with C{True} once it is written,
            or with C{False} when the write failed (the failure is logged);
            it never fails.
        """
        return self._lock.run(self._start, False)

    def _start(self, atStop: bool) -> "Deferred[bool]":
        with _collectorPaused():
            return Deferred.fromCoroutine(self._save(atStop))

    async def _save(self, atStop: bool) -> bool:
        path = self.stateFile.path
        try:
            data, peers = await _dump(
                self.tracker,
                self._fileSwarms() if self._fileSwarms is not None else (),
                self._fileRevocations() if self._fileRevocations is not None else None,
            )
            await self._write(data)
        except Exception:
            self.log.failure("state not written to {path}; the previous file stays", path=path)
            return False
        if atStop:
            self.log.info(
                "state written to {path} at stop: {peers} session(s)", path=path, peers=peers
            )
        else:
            self.log.debug(
                "state written to {path}: {peers} session(s), {size} bytes",
                path=path,
                peers=peers,
                size=len(data),
            )
        return True

    def _write(self, data: bytes) -> "Deferred[None]":
        clock = self.clock
        if IReactorThreads.providedBy(clock):
            return deferToThreadPool(clock, clock.getThreadPool(), self.stateFile.write, data)
        return maybeDeferred(self.stateFile.write, data)

    def saveAtStop(self) -> "Deferred[bool]":
        """
        Stop the periodic writes and write the state one last time: for
        L{GracefulStop.stopCallbacks<ppsp.tracker.drain.GracefulStop.stopCallbacks>},
        which run once the requests in flight are answered.  The service's
        own stop then writes nothing more.
        """
        if self._loop.running:
            self._loop.stop()
        self._saved = True
        return self._lock.run(self._start, True)

    def stopService(self) -> "Optional[Deferred[bool]]":
        """
        Stop the periodic writes, and write the state unless L{saveAtStop}
        did already.
        """
        super().stopService()
        if self._loop.running:
            self._loop.stop()
        if self._saved:
            return None
        return self.saveAtStop()
