"""
Every zope Interface of ppsp.

The names here are part of the public API: strategies, stores and codecs
written outside ppsp implement them, and the tracker talks to its parts
only through them.
"""

from __future__ import annotations

from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Hashable,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.web.http_headers import Headers

    from ppsp.messages import (
        ChunkRange,
        Method,
        PeerAddress,
        PeerMode,
        Request,
        Response,
        ResponseCode,
        Stat,
    )
    from ppsp.tracker.store import StatValue

# A record of the store (a peer, a swarm, a membership): what the store
# returns and takes back; its attributes are documented by the store
# (ppsp.tracker.store), not by this interface.
_Record = Any

__all__ = [
    "ICodec",
    "ISwarmMember",
    "IRequester",
    "IFindConstraints",
    "ISwarmView",
    "IPeerSelector",
    "IPeerSelectorPlugin",
    "IPeerStore",
    "IRetryCache",
    "IStatsSource",
    "IChunkSource",
]


class ICodec(Interface):
    """
    One encoding of the protocol (XML, the JSON of RFC 7846): turns the
    message objects of L{ppsp.messages} into bytes and back, and says what
    an HTTP server needs besides the body (L{requestFromHeaders},
    L{httpStatus}).

    A codec never decides a protocol question: it reports what it cannot
    decode by raising L{ppsp.codec.DecodeError}, which names the response
    code to send and carries the TransactionID when it could be read.
    """

    name: str = Attribute("Short name of the encoding, for example C{'xml'}.")
    contentType: bytes = Attribute(
        "The C{Content-Type} header value (bytes) of messages this codec writes."
    )

    def decodeRequest(body: bytes) -> "Request":
        """
        Decode one request.

        @param body: the HTTP body.
        @type body: L{bytes}
        @return: a L{ppsp.messages.Request} subclass instance.
        @raise ppsp.codec.DecodeError: the body is not a valid request.
        """

    def encodeResponse(response: "Response") -> bytes:
        """
        Encode one response (success or L{ppsp.messages.ErrorResponse}).

        @rtype: L{bytes}
        """

    def encodeRequest(request: "Request") -> bytes:
        """
        Encode one request (the peer side, and STAT_QUERY at the tracker).

        @rtype: L{bytes}
        """

    def requestHeaders(request: "Request") -> Dict[bytes, List[bytes]]:
        """
        The HTTP headers to send with C{request}: its C{Content-Type}, and
        whatever else the encoding carries outside the body (the JSON
        encoding's C{Authorization}).

        @rtype: L{dict} of L{bytes} to L{list} of L{bytes}
        """

    def decodeResponse(body: bytes, method: "Method") -> "Response":
        """
        Decode the response to a request of C{method}.

        @param method: the L{ppsp.messages.Method} of the request sent.
        @return: the method's success response class instance, or a
            L{ppsp.messages.ErrorResponse}.
        @raise ppsp.codec.DecodeError: the body is not a valid response.
        """

    def requestFromHeaders(request: "Request", headers: "Headers") -> "Request":
        """
        Complete a request decoded from a body (L{decodeRequest}) with
        what this encoding carries in the HTTP request's headers instead
        (the tracker's HTTP resource calls it for every request it
        decodes): the JSON encoding's C{Authorization: Bearer} credential
        (PROTOCOL.md section 7); the XML encoding reads no header and
        returns C{request} itself.

        @param request: the decoded request.
        @param headers: the HTTP request's headers.
        @return: C{request}, or a copy with what the headers carry.
        @raise ppsp.codec.DecodeError: a header the encoding reads is
            malformed.
        """

    def httpStatus(code: "ResponseCode") -> int:
        """
        The HTTP status of a response that carries C{code} in this
        encoding: the profile's table (PROTOCOL.md section 3,
        L{ResponseCode.httpStatus<ppsp.messages.ResponseCode.httpStatus>})
        for XML, the table of PROTOCOL.md section 7 for JSON.
        """


class ISwarmMember(Interface):
    """
    A read-only view of one peer's membership of one swarm, as strategies
    see it.  Strategies must not keep references to members beyond one
    call.
    """

    peerID: str = Attribute("The peer's PeerID (L{str}).")
    mode: "PeerMode" = Attribute("The peer's L{ppsp.messages.PeerMode} in this swarm.")
    observedIP: str = Attribute("The IP address the tracker observed for the peer.")
    connectedAt: float = Attribute("When the peer connected (clock seconds).")

    def stat(name: str) -> Optional[StatValue]:
        """
        The latest value the peer reported for a statistics property: the
        value scoped to this swarm when there is one, else the peer's.

        @return: an L{int} for numeric properties, a L{str} otherwise, or
            L{None} if the peer never reported it.
        """

    def holds(chunkID: int) -> bool:
        """
        @return: whether the peer announced that it holds C{chunkID} in
            this swarm.
        @rtype: L{bool}
        """


class IRequester(Interface):
    """
    The peer that asks for a peer list (it need not be a member of the
    swarm).
    """

    peerID: str = Attribute("The requester's PeerID.")
    observedIP: str = Attribute("The IP address the tracker observed.")

    def stat(name: str) -> Optional[StatValue]:
        """
        The latest value the requester reported for a property, or L{None}.
        """


class IFindConstraints(Interface):
    """
    What the requester asked the returned peers to satisfy: the statistics
    constraints of FIND and, for FIND_CHUNK, the chunk.
    """

    chunkID: Optional[int] = Attribute("The chunk the peers must hold, or L{None}.")
    stats: Tuple["Stat", ...] = Attribute("The constraint L{ppsp.messages.Stat}s as sent.")

    def accepts(member: ISwarmMember) -> bool:
        """
        @param member: an L{ISwarmMember}.
        @return: whether C{member} satisfies every constraint; never true
            for the requester or for a member that has expired.
        @rtype: L{bool}
        """


class ISwarmView(Interface):
    """
    A read-only view of one swarm for peer selection.  Sampling costs
    O(count) expected time, never O(swarm size), unless the predicate
    rejects nearly every member.
    """

    swarmID: str = Attribute("The SwarmID.")

    def __len__() -> int:
        """
        The number of members.
        """

    def sample(
        count: int, accept: Optional[Callable[[ISwarmMember], bool]] = None
    ) -> Sequence[ISwarmMember]:
        """
        Up to C{count} distinct members chosen uniformly at random among
        those for which C{accept(member)} is true (all when L{None}).

        @rtype: L{list} of L{ISwarmMember}
        """

    def sampleHolders(
        chunkID: int, count: int, accept: Optional[Callable[[ISwarmMember], bool]] = None
    ) -> Sequence[ISwarmMember]:
        """
        Like L{sample}, among the members that hold C{chunkID}; found
        through the swarm's chunk index, not by a scan.

        @rtype: L{list} of L{ISwarmMember}
        """

    def hasHolders(chunkID: int) -> bool:
        """
        @return: whether any member announced C{chunkID}.
        """

    def membership(requester: IRequester) -> Optional[ISwarmMember]:
        """
        The requester's own membership of this swarm, in O(1).

        @param requester: an L{IRequester}.
        @return: an L{ISwarmMember}, or L{None} when the requester is not a
            member.
        """

    def modeCount(mode: "PeerMode") -> int:
        """
        @param mode: a L{ppsp.messages.PeerMode}.
        @return: the number of members in C{mode}, in O(1).
        """

    def modeMembers(mode: "PeerMode") -> Sequence[ISwarmMember]:
        """
        The members whose mode is C{mode} (SEED or LIVESEED), from the
        swarm's per-mode index, in O(1): a live, read-only sequence in a
        stable order (a removal moves the last member into the removed
        one's place), so that a strategy may walk it round-robin.  Do not
        change it or keep it beyond one call.

        @raise ValueError: C{mode} is LEECH; LEECHes are the remainder of
            the swarm and are not indexed (use L{sampleMode}).
        """

    def sampleMode(
        mode: "PeerMode", count: int, accept: Optional[Callable[[ISwarmMember], bool]] = None
    ) -> Sequence[ISwarmMember]:
        """
        Like L{sample}, among the members in C{mode}: O(count) for SEED and
        LIVESEED (from the per-mode index), O(count) expected for LEECH
        while LEECHes are most of the swarm.

        @rtype: L{list} of L{ISwarmMember}
        """

    def sampleGroup(
        key: Callable[[Any], Hashable],
        group: Hashable,
        count: int,
        accept: Optional[Callable[[ISwarmMember], bool]] = None,
    ) -> Sequence[ISwarmMember]:
        """
        Like L{sample}, among the members for which C{key(member) ==
        group}.  The first call with a key function (compared by equality:
        pass the same function every time) partitions the swarm by it in
        O(swarm size); the swarm then keeps that partition up to date as
        members join and leave, so that later calls cost O(count).  The key
        must depend only on facts that do not change during a membership
        (such as the peer's observed address).

        @rtype: L{list} of L{ISwarmMember}
        """

    def groupSize(key: Callable[[Any], Hashable], group: Hashable) -> int:
        """
        @return: the number of members filed under C{group} in the
            partition by C{key} (see L{sampleGroup}).
        """

    def __iter__() -> Iterator[ISwarmMember]:
        """
        Every member, in no particular order.  This costs O(swarm size):
        strategies should prefer L{sample}.
        """


class IPeerSelector(Interface):
    """
    A peer-selection strategy: chooses the peer list of a FIND,
    FIND_CHUNK or LEECH JOIN.

    Whatever a strategy returns, the tracker enforces the protocol's
    invariants afterwards: never the requester, never an expired peer, no
    duplicates, at most C{count} peers, only peers that satisfy the
    constraints.
    """

    def select(
        swarm: ISwarmView,
        requester: IRequester,
        count: int,
        constraints: IFindConstraints,
    ) -> Union[Sequence[ISwarmMember], "Deferred[Sequence[ISwarmMember]]"]:
        """
        Choose at most C{count} members of C{swarm} for C{requester}.

        @param swarm: an L{ISwarmView}.
        @param requester: an L{IRequester}.
        @param count: the most peers to return (at least 1).
        @param constraints: an L{IFindConstraints}.
        @return: a L{list} of L{ISwarmMember} from C{swarm}, or a
            L{twisted.internet.defer.Deferred} firing with one.
        """


class IPeerSelectorPlugin(Interface):
    """
    A named factory of L{IPeerSelector}s, discovered as a Twisted plugin.
    """

    name: str = Attribute("Short name used on the command line, e.g. C{'random'}.")
    description: str = Attribute("One line describing the strategy.")

    def makeSelector(argstring: str) -> IPeerSelector:
        """
        @param argstring: the text after C{NAME:} in C{--selector}, or C{''}.
        @return: an L{IPeerSelector}.
        @raise ValueError: the arguments are not valid for this strategy.
        """


class IPeerStore(Interface):
    """
    Everything the tracker core keeps: registered peers, swarms,
    memberships, chunk sets, statistics and the deadlines of expiry.

    The core keeps every protocol rule; the store only keeps and indexes
    state, so that a shared store can replace the in-memory one.  See
    L{ppsp.tracker.store.MemoryPeerStore} for the documented semantics of
    each operation.
    """

    def getPeer(peerID: str) -> Optional[_Record]:
        """
        @return: the registered peer record, or L{None}.
        """

    def addPeer(
        peerID: str,
        token: str,
        observedIP: str,
        observedPort: int,
        addresses: Tuple["PeerAddress", ...],
        statPort: Optional[int],
        connectedAt: float,
        deadline: float,
    ) -> _Record:
        """
        Register a new peer (its PeerID must not be registered) and return
        its record, whose attributes are those of
        L{ppsp.tracker.store.PeerRecord}.
        """

    def removePeer(peerID: str, now: float) -> Sequence[_Record]:
        """
        Delete a peer: its memberships, chunk sets, statistics and
        deadlines.  Unknown PeerIDs are ignored.

        @param now: the current time (swarms left empty are empty since).
        @return: the swarms the peer was a member of.
        """

    def peers() -> Iterable[_Record]:
        """
        Every registered peer, for operators' views (O(n)).
        """

    def peerCount() -> int:
        """
        @return: the number of registered peers.
        """

    def touchPeer(peer: _Record, deadline: float) -> None:
        """
        Record that the peer is alive until C{deadline}.
        """

    def getSwarm(swarmID: str) -> Optional[_Record]:
        """
        @return: the swarm (an L{ISwarmView} with write methods for the
            core), or L{None}.
        """

    def addSwarm(swarmID: str, provisioned: bool, now: float) -> _Record:
        """
        Create a swarm, empty since C{now}, and return it.
        """

    def removeSwarm(swarmID: str) -> None:
        """
        Forget a swarm (it must be empty).
        """

    def swarmCount() -> int:
        """
        @return: the number of swarms.
        """

    def swarms() -> Iterable[_Record]:
        """
        Every swarm, for operators' views (O(n)).
        """

    def addMember(
        swarm: _Record, peer: _Record, mode: "PeerMode", expireAt: Optional[float]
    ) -> _Record:
        """
        Make C{peer} a member of C{swarm}; return the membership.
        """

    def removeMember(swarm: _Record, peer: _Record, now: float) -> None:
        """
        End C{peer}'s membership of C{swarm}, with its chunk set.
        """

    def setChunks(
        swarm: _Record, member: _Record, ranges: Tuple["ChunkRange", ...]
    ) -> None:
        """
        Replace the chunk set of a membership and update the chunk index.
        """

    def setObservedAddress(peer: _Record, ip: str, port: int) -> None:
        """
        Record the address a peer's session now comes from (a CONNECT that
        took the session over), keeping whatever the store indexes by it
        up to date.
        """

    def setMemberMode(member: _Record, mode: "PeerMode") -> None:
        """
        Change the L{ppsp.messages.PeerMode} of a membership (a JOIN of a
        swarm the peer is already in), keeping the swarm's per-mode index
        up to date.
        """

    def setMemberExpiry(member: _Record, expireAt: Optional[float]) -> None:
        """
        Set or clear (L{None}) when a membership ends.
        """

    def due(now: float) -> Tuple[List[str], List[Tuple[str, str]], List[str]]:
        """
        Pop every deadline that is due at C{now}.

        @return: three lists: PeerIDs whose liveness deadline passed,
            (SwarmID, PeerID) pairs whose membership expired, and SwarmIDs
            whose empty-swarm deadline passed.  Entries may be stale: the
            core checks each against the current state.
        """

    def scheduleSwarmCheck(swarm: _Record, deadline: float) -> None:
        """
        Ask L{due} to report C{swarm} at C{deadline} (used to forget swarms
        that stayed empty).  A swarm has at most one pending check: this
        one replaces any asked for before, and L{removeSwarm} drops it.
        """

    def scheduledCount() -> int:
        """
        @return: the number of expiry entries the store keeps (for tests
            and metrics): they must go when what they time out goes.
        """

    def setAddresses(peer: _Record, addresses: Tuple["PeerAddress", ...]) -> None:
        """
        Replace the addresses a peer announced (a CONNECT that took the
        session over), keeping the store's accounts up to date.
        """

    def setIdentity(peer: _Record, identity: Any) -> None:
        """
        Record what authenticated a peer's session: a
        L{ppsp.tracker.auth.SessionIdentity} (its bound PeerID, when its
        credential expires, the credential's fingerprint, the digest of
        its TLS client certificate), or L{None} for a session of the
        C{open} scheme without a client certificate.
        """

    def keepStats(target: _Record, values: Dict[str, StatValue]) -> None:
        """
        Merge C{values} (property name to typed value) into the statistics
        of C{target}, a peer record or a membership, keeping the latest
        value of each property and the store's accounts up to date.
        """

    def addressUsage(ip: str) -> Tuple[int, int]:
        """
        @return: the number of sessions registered from the source address
            that C{ip} counts as (L{ppsp.tracker.addresses.addressKey}: an
            IPv4 address, an IPv6 /64), and the bytes they make the store
            hold (by the store's own cost model).
        """

    def peerUsage(peer: _Record) -> int:
        """
        @return: the bytes the store holds for a registered peer: its
            record, memberships, chunk sets and statistics.
        """

    def recordCost(peerID: str, observedIP: str, addresses: Sequence["PeerAddress"]) -> int:
        """
        @return: the bytes a peer record with these attributes would hold.
        """

    def memberCost(swarmID: str) -> int:
        """
        @return: the bytes a new membership of C{swarmID} would hold.
        """

    def chunksCost(ranges: Tuple["ChunkRange", ...]) -> int:
        """
        @return: the bytes a membership's chunk set C{ranges} (merged and
            sorted) would hold, with its index entries.
        """

    def statsCost(kept: Optional[Dict[str, StatValue]], values: Dict[str, StatValue]) -> int:
        """
        @return: the bytes that merging C{values} into the statistics
            C{kept} (a dict, or L{None} when none are kept yet) would add;
            negative when it frees some.
        """


# The peer side -------------------------------------------------------------


class IRetryCache(Interface):
    """
    The answers the tracker gave in the last retry window, so that a
    repeated request gets its first answer again and is not applied twice
    (PROTOCOL.md section 6).  The tracker core decides what a key and a
    fingerprint are (L{ppsp.tracker.retry.retryKey}: the sender, including
    its TLS identity; L{ppsp.tracker.retry.fingerprint}: the message); a
    cache keeps them and forgets them when the window ends.  A cache
    shared by several trackers makes a retry that reaches another tracker
    of the same logical tracker get the same answer.
    """

    def get(key: Any, fingerprint: int, now: float) -> Any:
        """
        The L{Response<ppsp.messages.Response>} kept for C{key} if its
        window has not ended at C{now} and it answered a request with this
        C{fingerprint}; else L{None}.
        """

    def put(key: Any, fingerprint: int, response: Any, now: float) -> None:
        """
        Keep C{response} for C{key} for the retry window from C{now}.
        """

    def discard(key: Any) -> None:
        """
        Forget the answer kept for C{key}, if any.
        """

    def prune(now: float) -> None:
        """
        Forget every answer whose window ended at or before C{now}.
        """


class IStatsSource(Interface):
    """
    Where a peer's statistics come from: the application embedding a
    L{ppsp.peer.PeerService} provides one, and the service reads it for
    each STAT_REPORT and to answer the tracker's STAT_QUERY.
    """

    def stats() -> Iterable["Stat"]:
        """
        The peer's statistics as they are now.

        @return: an iterable of L{ppsp.messages.Stat}; a Stat whose
            C{swarm} is set describes the peer in that swarm only.
        """


class IChunkSource(Interface):
    """
    Which chunks a peer holds in each swarm.  The service sends JOIN_CHUNK
    with the current set whenever the source says it changed, coalescing
    bursts of changes into one message.
    """

    def chunks(swarmID: str) -> Iterable["ChunkRange"]:
        """
        The chunks the peer holds in a swarm now.

        @param swarmID: the swarm.
        @type swarmID: L{str}
        @return: an iterable of L{ppsp.messages.ChunkRange} (possibly empty).
        """

    def watch(callback: Callable[[str], object]) -> Callable[[], None]:
        """
        Call C{callback(swarmID)} each time the chunk set of a swarm
        changes.

        @return: a callable of no arguments that stops the calls.
        """
