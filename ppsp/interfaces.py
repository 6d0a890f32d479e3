"""
Every zope Interface of ppsp, and the exception a store raises when it
cannot answer (L{StoreUnavailable}).

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
    Mapping,
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
    from ppsp.tracker.values import (
        Expired,
        PeerState,
        Session,
        StatsUpdate,
        StatValue,
        SwarmState,
    )

__all__ = [
    "ICodec",
    "ISwarmMember",
    "IRequester",
    "IFindConstraints",
    "ISwarmView",
    "IPeerSelector",
    "IPeerSelectorPlugin",
    "IPeerStore",
    "StoreUnavailable",
    "IStoreCosts",
    "IRetryCache",
    "IPollLease",
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

    peerID: str = Attribute("The peer's PeerID (L{str}): members are compared by it.")
    swarmID: str = Attribute("The SwarmID of the swarm.")
    mode: "PeerMode" = Attribute("The peer's L{ppsp.messages.PeerMode} in this swarm.")
    observedIP: str = Attribute("The IP address the tracker observed for the peer.")
    observedPort: int = Attribute("The port the tracker observed for the peer.")
    addresses: Tuple["PeerAddress", ...] = Attribute(
        "The addresses the peer announced (L{ppsp.messages.PeerAddress}es)."
    )
    contact: Tuple[Tuple["PeerAddress", ...], str, int] = Attribute(
        "C{(addresses, observedIP, observedPort)}: what a peer list shows of the"
        " member besides its mode.  A store answers the same tuple object for as"
        " long as none of the three changes, so that the tracker's cache of"
        " peer-list entries checks an entry with one comparison (an equal tuple"
        " works too, at the cost of comparing it)."
    )
    connectedAt: float = Attribute("When the peer connected (clock seconds).")
    deadline: float = Attribute(
        "When the member stops being listed unless its peer is heard from: the"
        " earlier of its session's deadline and its membership's ExpireTime"
        " (clock seconds)."
    )
    chunks: Tuple["ChunkRange", ...] = Attribute(
        "The chunks the peer announced in this swarm: L{ppsp.messages.ChunkRange}s,"
        " merged and sorted (empty when it announced none)."
    )

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
    now: float = Attribute(
        "The time of the request (clock seconds), for strategies that spread"
        " their choices over time."
    )

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
    complete: bool = Attribute(
        "Whether the view samples the whole swarm (a store in memory), or"
        " only the members a networked store fetched for this request; the"
        " tracker then asks the store for more when a strategy's list comes"
        " back short."
    )

    def __len__() -> int:
        """
        The number of members of the swarm.
        """

    def member(peerID: str) -> Optional[ISwarmMember]:
        """
        The member with this PeerID, in O(1), or L{None} when the peer is
        not a member (or, for a view that is not L{complete}, was not
        fetched).
        """

    def current(candidate: object) -> Optional[ISwarmMember]:
        """
        The view's own member that C{candidate} (whatever a strategy
        returned) stands for: the member with C{candidate}'s PeerID, as
        L{member} answers it, or L{None} when C{candidate} has no PeerID or
        names no member.  In O(1); a view may recognise its own member
        objects without the lookup (the tracker asks this for every member
        of every peer list).
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
    duplicates (members are compared by PeerID), at most C{count} peers,
    only members of the swarm that satisfy the constraints.

    The contract that lets any store stand behind a strategy: the tracker
    reads the swarm from its store (L{IPeerStore.lookup}) before it calls
    C{select}, so the L{ISwarmView} answers synchronously whatever the
    store; a strategy uses only the view's methods (a networked store's
    view holds only the members it fetched, C{complete} false), keeps no
    member beyond the call, and compares members by C{peerID}.  A
    strategy that must wait for something of its own (a service it asks)
    answers with a L{Deferred}.

    A strategy that cannot work on such partial views (it needs every
    member, or an index of its own over the whole swarm, as the memory
    store's view gives) says so with an optional attribute
    C{requiresCompleteViews = True}: the tracker then refuses to start
    with a networked store (C{--store redis://...}), with a usage error
    that names the strategy.  Without the attribute, a strategy is taken
    to work on any store's views.
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


class IStoreCosts(Interface):
    """
    A store's cost model: the bytes a piece of state makes it hold, so that
    the core can refuse a write past the memory budgets (PROTOCOL.md
    section 6) before anything changes.  Pure computations, answered at
    once (not Deferreds).
    """

    def recordCost(peerID: str, observedIP: str, addresses: Sequence["PeerAddress"]) -> int:
        """
        @return: the bytes a session with these attributes holds.
        """

    def memberCost(swarmID: str) -> int:
        """
        @return: the bytes a new membership of C{swarmID} holds.
        """

    def chunksCost(ranges: Tuple["ChunkRange", ...]) -> int:
        """
        @return: the bytes a membership's chunk set C{ranges} (merged and
            sorted) holds, with its index entries.
        """

    def statsCost(
        kept: Optional[Mapping[str, "StatValue"]], values: Mapping[str, "StatValue"]
    ) -> int:
        """
        @return: the bytes that merging C{values} into the statistics
            C{kept} (L{None}: none kept yet) adds; negative when it frees
            some.
        """


class StoreUnavailable(Exception):
    """
    The store cannot answer now: its backend is unreachable, or did not
    answer within the store's bound.  A store fails a call's L{Deferred}
    with it (any method of L{IPeerStore} or L{IRetryCache} but
    L{IPeerStore.reachable}, which fires with C{False} instead), so that
    the tracker answers the request TEMPORARILY OVERLOADED (HTTP 503, with
    C{Retry-After}) instead of INTERNAL ERROR, and logs the outage once,
    not once per request.

    A write that fails with it was applied whole or not at all, never in
    part, but the store may not know which: a reply lost with the
    connection, or later than the bound, leaves it unknown.  The message
    says what happened, for the log.
    """


class IPeerStore(Interface):
    """
    Everything the tracker core keeps: registered peers, swarms,
    memberships, chunk sets, statistics and the deadlines of expiry.

    The core keeps every protocol rule; a store keeps and indexes state.
    Every method returns a L{Deferred}; the values it fires with
    (L{ppsp.tracker.values}) are immutable and are compared by their IDs.
    Each write is one explicit operation that the store applies
    atomically: with several trackers on one store, a concurrent call sees
    the state before it or after it, never half of it.  Most protocol
    requests cost one read (L{peer} or L{lookup}) and one write, so that a
    networked store makes two round trips for them; the few that cost more
    are listed in C{docs/writing-a-store.rst}.

    A write that names a PeerID that is not registered (it expired, or
    another tracker removed it) changes nothing and fires with C{False}.
    A store whose backend is unreachable or too slow fails its calls with
    L{StoreUnavailable}, within a bounded time, and a write that fails so
    is whole or absent.  Any other failure is a bug or a broken backend
    (the tracker answers INTERNAL ERROR).
    Times are the tracker's clock seconds.  L{ppsp.testing.PeerStoreContractTests}
    is the test suite every store must pass; C{docs/writing-a-store.rst}
    explains the contract.
    """

    costs: IStoreCosts = Attribute("The store's cost model (an L{IStoreCosts}).")

    # Reads -----------------------------------------------------------------

    def peer(peerID: str) -> "Deferred[Optional[PeerState]]":
        """
        The registered peer, with its memberships and statistics, or
        L{None}.  A peer whose deadline passed but that L{expire} has not
        taken out yet is still answered (the caller compares its
        C{deadline} with the time).
        """

    def lookup(
        peerID: str, swarmID: str, count: int, chunkID: Optional[int]
    ) -> "Deferred[Tuple[Optional[PeerState], Optional[ISwarmView]]]":
        """
        A FIND's or a JOIN's read: the peer (as L{peer}) and a view of the
        swarm for the strategies (L{None} when no such swarm exists).

        The view answers the L{ISwarmView} reads synchronously: a store in
        memory gives the live swarm; a networked store gives the members
        it fetched, at least C{count} chosen at random when the swarm has
        that many (among the holders of C{chunkID} when it is given), with
        its SEED and LIVESEED members (in the same order at every lookup,
        for strategies that take them in turn) and the peer's own
        membership, and says so with C{complete} false.
        """

    def usage(ip: str) -> "Deferred[Tuple[int, int, int]]":
        """
        The accounts a CONNECT's limits read: the sessions registered from
        the source address C{ip} counts as
        (L{ppsp.tracker.addresses.addressKey}: an IPv4 address, an IPv6
        /64), the bytes they make the store hold (by L{costs}), and the
        sessions registered in all.
        """

    def swarm(swarmID: str) -> "Deferred[Optional[SwarmState]]":
        """
        The swarm, or L{None}.
        """

    def peers() -> "Deferred[Sequence[PeerState]]":
        """
        Every registered peer, for operators' views and the state file
        (O(n)).
        """

    def swarms() -> "Deferred[Sequence[SwarmState]]":
        """
        Every swarm, for operators' views and the state file (O(n)).
        """

    def counts() -> "Deferred[Tuple[int, int]]":
        """
        The numbers of registered peers and of swarms.
        """

    def reachable() -> "Deferred[bool]":
        """
        Whether the store answers (the health check asks): always, for a
        store in the tracker's memory; a networked store pings its server.
        It must not fail: an unreachable store fires with C{False}.
        """

    # Writes -----------------------------------------------------------------

    def register(
        session: "Session", stats: Mapping[str, "StatValue"]
    ) -> "Deferred[bool]":
        """
        Register a new peer with its session and peer-scoped statistics,
        if its PeerID is free; atomically, so that of two trackers
        registering one PeerID at once only one succeeds.

        @return: whether it was registered.
        """

    def takeOver(
        session: "Session", replacing: str, stats: "StatsUpdate"
    ) -> "Deferred[bool]":
        """
        Replace a registered peer's session (a CONNECT that takes it over)
        with C{session}, keeping its memberships and statistics, and merge
        C{stats}; only if the session's AuthToken is still C{replacing}
        (compare and set: of two takeovers at once, one succeeds).

        @return: whether it was replaced.
        """

    def touch(peerID: str, deadline: float) -> "Deferred[bool]":
        """
        Record that the peer is alive until C{deadline}.
        """

    def join(
        peerID: str,
        swarmID: str,
        mode: "PeerMode",
        expireAt: Optional[float],
        stats: "StatsUpdate",
        deadline: float,
        now: float,
    ) -> "Deferred[bool]":
        """
        A JOIN: create the swarm (not provisioned, empty since C{now}) if
        it does not exist; make the peer a member in C{mode} until
        C{expireAt} (L{None}: no end), or, when it is one already, set its
        mode and end (keeping its chunk set); merge C{stats}; and record
        that the peer is alive until C{deadline}.
        """

    def leave(peerID: str, swarmID: str, deadline: float, now: float) -> "Deferred[bool]":
        """
        A LEAVE: end the peer's membership of the swarm, with its chunk
        set and statistics (a swarm left empty is empty since C{now}), and
        record that the peer is alive until C{deadline}.

        @return: whether the peer was registered (a LEAVE of a swarm it is
            not in changes nothing else).
        """

    def setChunks(
        peerID: str, swarmID: str, ranges: Tuple["ChunkRange", ...], deadline: float
    ) -> "Deferred[bool]":
        """
        A JOIN_CHUNK: replace the chunk set of the peer's membership with
        C{ranges} (merged and sorted), and record that the peer is alive
        until C{deadline}.

        @return: whether the membership exists.
        """

    def keepStats(
        peerID: str, stats: "StatsUpdate", deadline: Optional[float]
    ) -> "Deferred[bool]":
        """
        Merge C{stats} (statistics for a swarm the peer is not in are
        dropped), and when C{deadline} is given, record that the peer is
        alive until then (a STAT_REPORT does; a STAT_QUERY's answer does
        not).
        """

    def disconnect(peerID: str, now: float) -> "Deferred[Optional[PeerState]]":
        """
        Delete a peer with its memberships, chunk sets and statistics
        (swarms left empty are empty since C{now}).

        @return: the peer as it was, or L{None} when it was not registered;
            of two calls at once, one only gets it.
        """

    def addSwarm(swarmID: str, provisioned: bool, now: float) -> "Deferred[bool]":
        """
        Create a swarm, empty since C{now}, if it does not exist; when
        C{provisioned}, make it (or the existing swarm) provisioned.

        @return: whether anything changed.
        """

    def removeSwarm(swarmID: str, now: float) -> "Deferred[Optional[int]]":
        """
        End every membership of a swarm (the sessions go on) and forget
        it.

        @return: the number of memberships ended, or L{None} when no such
            swarm exists.
        """

    def expire(now: float, emptySwarmLifetime: float) -> "Deferred[Expired]":
        """
        Atomically take out what is due at C{now}: the peers whose
        deadline passed (with their memberships), the memberships whose
        ExpireTime passed, and the swarms not provisioned that have been
        empty for C{emptySwarmLifetime} seconds.  What one call reports no
        other call reports.  Costs time in proportion to what is due,
        never a scan of every peer.
        """


# The peer side -------------------------------------------------------------


class IRetryCache(Interface):
    """
    The answers the tracker gave in the last retry window, so that a
    repeated request gets its first answer again and is not applied twice
    (PROTOCOL.md section 6).  The tracker core decides what a key is
    (L{ppsp.tracker.retry.retryKey}: the sender, including its TLS
    identity) and asks the cache for the fingerprint of the message
    (L{fingerprint}); a cache keeps them and forgets them when the window
    ends.  A cache shared by several trackers (a store that also provides
    this interface) makes a retry that reaches another tracker of the same
    logical tracker get the same answer.  Every method but L{fingerprint}
    returns a L{Deferred}.
    """

    def fingerprint(request: "Request") -> int:
        """
        What the cache keeps of C{request} to recognise it again: equal for
        equal requests of one class, and, for a cache that several
        processes share, equal in every process (Python's C{hash} of text
        is not: L{ppsp.tracker.retry.stableFingerprint} is).  Synchronous:
        it is computed, not looked up.
        """

    def get(key: Hashable, fingerprint: int, now: float) -> "Deferred[Optional[Response]]":
        """
        The L{Response<ppsp.messages.Response>} kept for C{key} if its
        window has not ended at C{now} and it answered a request with this
        C{fingerprint}; else L{None}.
        """

    def put(key: Hashable, fingerprint: int, response: "Response", now: float) -> "Deferred[None]":
        """
        Keep C{response} for C{key} for the retry window from C{now}.
        """

    def discard(key: Hashable) -> "Deferred[None]":
        """
        Forget the answer kept for C{key}, if any.
        """

    def prune(now: float) -> "Deferred[None]":
        """
        Forget every answer whose window ended at or before C{now}.
        """


class IPollLease(Interface):
    """
    Leases that make the trackers sharing a store poll each peer with
    STAT_QUERY once per interval in all, not once per tracker: a poller
    takes a peer's lease before it queries the peer, and skips the peer
    when another poller holds it.  A store that several trackers share
    provides this interface too, and the poller
    (L{StatQueryService<ppsp.tracker.statquerier.StatQueryService>}) uses
    it without being told; without one, the poller's own lease
    (L{SoleLease<ppsp.tracker.statquerier.SoleLease>}) always grants it.
    """

    def acquire(peerID: str, now: float, seconds: float) -> "Deferred[bool]":
        """
        Take the lease of polling C{peerID} for C{seconds} from C{now},
        unless a lease taken earlier (by this poller or another) has not
        run out.

        @return: a L{Deferred} that fires with C{True} when the lease is
            taken (the caller polls the peer), C{False} when another one
            holds it (the caller skips the peer); it fails with
            L{StoreUnavailable} when the store cannot answer.
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
