# -*- test-case-name: ppsp.test.test_core -*-
"""
Peer lists: what a strategy chose, checked against the protocol's
invariants and turned into the L{PeerInfo}s a requester may see.

The entry of a member in a list depends on the member (its PeerID, mode,
announced and observed addresses) and on the class of the requester's
address (L{addressScope}: public, or one private range): private
addresses are shown only to requesters of the same range.  Computing an
address's class parses it, so L{PeerInfoCache} keeps each entry, checked
against the member's current facts on every use: an entry whose member
changed mode or addresses is computed again, never served stale.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from ppsp.interfaces import ISwarmMember, ISwarmView
from ppsp.messages import AddressType, PeerAddress, PeerInfo, PeerMode
from ppsp.tracker.addresses import addressScope

__all__ = ["PeerInfoCache", "checkedList"]

_Contact = Tuple[Tuple[PeerAddress, ...], str, int]
_Entry = Tuple[PeerMode, _Contact, Optional[PeerInfo]]

#: A predicate on members (L{IFindConstraints.accepts<ppsp.interfaces.IFindConstraints.accepts>}).
Accepts = Callable[[ISwarmMember], bool]


class PeerInfoCache:
    """
    The peer-list entries of members, by class of requester and PeerID.

    Cost: one lookup in a table and two identity comparisons (the member's mode and L{contact
    <ppsp.interfaces.ISwarmMember.contact>}) per listed member; an entry
    costs about 300 bytes, and at most C{size} entries are kept in all
    (the cache starts again empty when it reaches that), so that it never
    grows with the number of peers beyond that.

    @param trustAnnouncedAddresses: list public addresses a peer announces
        even when they differ from the address the tracker observed.
    @param size: the most entries kept.
    """

    def __init__(self, trustAnnouncedAddresses: bool = False, size: int = 131072) -> None:
        self.trust = trustAnnouncedAddresses
        self.size = size
        # By class of requester, then by PeerID.
        self._byScope: Dict[Optional[str], Dict[str, _Entry]] = {}
        self._count = 0

    def __len__(self) -> int:
        """
        The number of entries kept.
        """
        return self._count

    def clear(self) -> None:
        """
        Forget every entry.
        """
        self._byScope.clear()
        self._count = 0

    def entries(self, scope: Optional[str]) -> Dict[str, _Entry]:
        """
        The entries kept for lists sent to requesters in C{scope}, by
        PeerID: (mode, contact, the L{PeerInfo} they make), for a caller
        that checks them itself (L{checkedList}).
        """
        entries = self._byScope.get(scope)
        if entries is None:
            entries = self._byScope[scope] = {}
        return entries

    def info(self, member: ISwarmMember, scope: Optional[str]) -> Optional[PeerInfo]:
        """
        The entry of C{member} in a list for a requester whose address is
        in C{scope}, or L{None} when it has no address that requester may
        use.
        """
        entries = self.entries(scope)
        mode = member.mode
        contact = member.contact
        entry = entries.get(member.peerID)
        if entry is not None and entry[0] is mode and (entry[1] is contact or entry[1] == contact):
            return entry[2]
        addresses, ip, port = contact
        shown = []
        trust = self.trust
        for address in addresses:
            s = addressScope(address.ip)
            if s is None:
                if trust or address.ip == ip:
                    shown.append(address)
            elif s == scope:
                shown.append(address)
        if not shown:
            observedScope = addressScope(ip)
            if observedScope is None or observedScope == scope:
                shown.append(
                    PeerAddress(ip, addresses[0].port if addresses else port, AddressType.REFLEXIVE)
                )
        info = PeerInfo(member.peerID, mode, tuple(shown)) if shown else None
        if self._count >= self.size:
            self.clear()
            entries = self.entries(scope)
        if member.peerID not in entries:
            self._count += 1
        entries[member.peerID] = (mode, contact, info)
        return info


def checkedList(
    chosen: Iterable[ISwarmMember],
    view: ISwarmView,
    requesterIP: str,
    count: int,
    accepts: Accepts,
    accepted: Set[str],
    cache: PeerInfoCache,
) -> List[PeerInfo]:
    """
    Enforce the invariants every strategy is held to on what it chose, and
    turn each member into the requester's view of it: members are taken
    from C{view} by PeerID (a strategy's own objects are never listed),
    each at most once, only those C{accepts} takes (never the requester,
    never an expired member), at most C{count}.

    @param accepted: the PeerIDs C{accepts} already took, not asked again.
    """
    scope = addressScope(requesterIP)
    seen: Set[str] = set()
    result: List[PeerInfo] = []
    own = view.current
    info = cache.info
    entries = cache.entries(scope)
    for candidate in chosen:
        # Whatever a strategy returns: only what stands for a member of the
        # view counts, and the view's own member is listed.
        current = own(candidate)
        if current is None:
            continue
        peerID = current.peerID
        if peerID in seen or (peerID not in accepted and not accepts(current)):
            continue
        seen.add(peerID)
        entry = entries.get(peerID)
        if entry is not None and entry[0] is current.mode and entry[1] is current.contact:
            shown = entry[2]
        else:
            shown = info(current, scope)
        if shown is not None:
            result.append(shown)
            if len(result) >= count:
                break
    return result
