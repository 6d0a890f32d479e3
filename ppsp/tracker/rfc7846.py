# -*- test-case-name: ppsp.test.test_json_tracker -*-
"""
RFC 7846 on the tracker: its CONNECT, which carries swarm actions, mapped
onto the operations of the protocol (PROTOCOL.md section 7).

The JSON codec decodes an RFC 7846 FIND, STAT_REPORT and keep-alive into
the profile's own requests, which the core answers as it answers them in
XML.  Only the CONNECT has no twin: one request that registers the peer
(or carries its session on) and then joins and leaves swarms.
L{RFC7846Adapter} turns it into the public operations of the core
(L{ppsp.tracker.core.Tracker}), in order:

  1. C{openSession}: the CONNECT operation, a registration or the
     takeover rule for a registered PeerID, with every limit checked
     before anything changes (for a registered peer, the memory budgets
     already count a membership for each JOIN action);
  2. for each swarm action, C{apply} of the JOIN or LEAVE it stands for,
     and for a SEEDER that sent C{peer_num}, of the FIND whose peer list
     it answers;
  3. C{updateSession} for a registered peer when an action succeeded;
     then the DISCONNECT when the peer left its last swarm, or else
     C{refreshSession}, the liveness every request of a session refreshes
     (a new registration whose every action failed is undone with the
     DISCONNECT);

and builds the L{PPSTPConnectResponse}, one L{SwarmResult} per action.
The tracker maps L{PPSTPConnectRequest} to L{RFC7846Adapter.connect} in
its table of handlers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Set

from twisted.internet.defer import Deferred

from ppsp.messages import (
    AddressType,
    DisconnectRequest,
    FindRequest,
    FindResponse,
    JoinRequest,
    JoinResponse,
    LeaveRequest,
    PeerAddress,
    PeerMode,
    PPSTPConnectRequest,
    PPSTPConnectResponse,
    ProtocolError,
    Response,
    ResponseCode,
    SwarmActionType,
    SwarmResult,
)

if TYPE_CHECKING:  # the core imports this module
    from ppsp.tracker.core import Origin, SessionOpening, Tracker

__all__ = ["RFC7846Adapter"]


class RFC7846Adapter:
    """
    Answers RFC 7846 CONNECTs with the operations of a
    L{Tracker<ppsp.tracker.core.Tracker>}.

    @ivar tracker: the tracker whose operations it applies.
    """

    def __init__(self, tracker: "Tracker") -> None:
        """
        @param tracker: the tracker whose operations it applies.
        """
        self.tracker = tracker

    async def connect(
        self, request: PPSTPConnectRequest, origin: "Origin", now: float
    ) -> Response:
        """
        Answer an RFC 7846 CONNECT: the CONNECT operation (registration, or
        the takeover rule for a registered PeerID, where a token that is
        sent must be right), then each swarm action as the operation it
        stands for (see L{_actions}).

        @param request: the CONNECT.
        @param origin: where it came from.
        @param now: the time of the request.
        @return: a L{PPSTPConnectResponse}.
        @raise ProtocolError: the CONNECT breaks a rule, or every swarm
            action failed.
        """
        tracker = self.tracker
        if request.addresses is not None:
            tracker.checkAddresses(request.addresses)
        limit = 2 * tracker.config.maxSwarmsPerPeer
        if len(request.swarmActions) > limit:
            raise ProtocolError(ResponseCode.INVALID_SYNTAX, f"more than {limit} swarm actions")
        opening = await tracker.openSession(
            request,
            origin,
            request.requesterStats,
            request.addresses,
            joining=[
                action.swarmID
                for action in request.swarmActions
                if action.action is not SwarmActionType.LEAVE
            ],
            strictToken=True,
        )
        return await self._actions(opening)

    async def _actions(self, opening: "SessionOpening") -> Response:
        """
        Apply the swarm actions of an opened CONNECT in order, each as the
        JOIN or LEAVE it stands for, and answer one L{SwarmResult} per
        action (PROTOCOL.md section 7): a failed action fails alone, and the
        request fails with MESSAGE FORBIDDEN (03) only when every action
        failed; a new registration is then undone.  A registered peer's
        announced addresses (when the request has them), observed address,
        identity and statistics change only when an action succeeded.  A
        request that leaves the peer in no swarm, having left one, ends the
        registration as DISCONNECT would; its answer carries no token.
        """
        tracker = self.tracker
        request = opening.request
        assert isinstance(request, PPSTPConnectRequest)
        origin = opening.origin
        tid = request.transactionID
        token = opening.token
        results: List[SwarmResult] = []
        swarms: Set[str] = {
            swarmID
            for swarmID, member in opening.peer.swarms.items()
            if member.current(opening.now)
        }
        succeeded = left = 0
        for action in request.swarmActions:
            try:
                if action.action is SwarmActionType.LEAVE:
                    await self._apply(opening, LeaveRequest, swarmID=action.swarmID)
                    left += 1
                    swarms.discard(action.swarmID)
                    results.append(SwarmResult(action.swarmID))
                else:
                    results.append(await self._join(opening, action.swarmID, action.mode))
                    swarms.add(action.swarmID)
            except ProtocolError as e:
                results.append(SwarmResult(action.swarmID, e.code, e.reason))
                continue
            succeeded += 1
        if not succeeded:
            if opening.fresh:
                await self._apply(opening, DisconnectRequest)
            raise ProtocolError(
                ResponseCode.MESSAGE_FORBIDDEN, f"every swarm action failed: {results[0].reason}"
            )
        if not opening.fresh:
            await tracker.updateSession(opening, request.addresses)
        if left and not swarms:
            await self._apply(opening, DisconnectRequest)
            token = ""
        else:
            await tracker.refreshSession(opening)
        reflexive = PeerAddress(origin.ip, origin.port, AddressType.REFLEXIVE)
        interval = tracker.config.keepAliveInterval
        return PPSTPConnectResponse(tid, token, reflexive, interval, tuple(results))

    def _apply(self, opening: "SessionOpening", cls: type, **fields: Any) -> "Deferred[Response]":
        """
        Apply the core operation C{cls} in the name of the session being
        opened, with the CONNECT's TransactionID (see L{Tracker.apply}).
        """
        request = opening.request
        return self.tracker.apply(
            cls(request.transactionID, opening.peerID, opening.token, **fields),
            opening.origin,
            opening.now,
        )

    async def _join(self, opening: "SessionOpening", swarmID: str, mode: PeerMode) -> SwarmResult:
        """
        One JOIN swarm action: the JOIN operation, and for a SEEDER that
        sent C{peer_num} the peer list a FIND would answer.
        """
        request = opening.request
        assert isinstance(request, PPSTPConnectRequest)
        peerNum = request.peerNum
        joined = await self._apply(
            opening, JoinRequest, swarmID=swarmID, mode=mode, peerNum=peerNum
        )
        if mode is not PeerMode.LEECH:
            if peerNum is None:
                return SwarmResult(swarmID)
            joined = await self._apply(opening, FindRequest, swarmID=swarmID, peerNum=peerNum)
        assert isinstance(joined, (JoinResponse, FindResponse))
        return SwarmResult(swarmID, peers=joined.peers)
