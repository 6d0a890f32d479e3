"""
Tests for ppsp's public API: which modules are public, and the names each
exports.

A module is public when people import it: an application that embeds the
tracker or the peer (docs/embedding.rst, docs/peer-tutorial.rst), a
strategy writer (docs/writing-a-strategy.rst), a store writer
(docs/writing-a-store.rst), an operator (the command lines C{python -m
ppsp.client} and C{python -m ppsp.auth}, C{twistd --logger
ppsp.logging.jsonObserver}, the plugins' C{tap} modules), or the plugin
system (L{ppsp.plugins}).  Every other module is private: its name, or the
name of a package above it, starts with C{_}.

Two public modules are implementation that the tracker core imports,
C{ppsp.tracker.peerlist} and C{ppsp.tracker.properties}: they stay public
names while the core is being tuned.

Adding a module, or a name to a module's C{__all__}, is a change of the
public API: it fails here until L{PUBLIC} says so.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
from types import ModuleType
from typing import Dict, List, Set

from twisted.trial.unittest import SynchronousTestCase

import ppsp

#: Every public module, with its C{__all__} (in any order).
PUBLIC: Dict[str, List[str]] = {
    "ppsp": [
        "__version__",
    ],
    "ppsp.auth": [
        "Options", "main",
    ],
    "ppsp.client": [
        "Options", "describePeer", "main", "run",
    ],
    "ppsp.codec": [
        "DecodeError", "JSONCodec", "JSON_CODEC", "JSON_CONTENT_TYPE", "XMLCodec", "XML_CODEC",
        "XML_CONTENT_TYPE", "selectCodec",
    ],
    "ppsp.codec.identifiers": [
        "IDENTIFIER_LENGTH", "PROPERTY_LENGTH", "identifierRule", "isPrintable",
        "validIdentifier",
    ],
    "ppsp.codec.json": [
        "JSONCodec", "JSON_CONTENT_TYPE", "JSON_ERROR_CODES", "MAX_CREDENTIAL", "MAX_DEPTH",
        "MAX_DOCUMENT", "bearerToken", "errorCode",
    ],
    "ppsp.codec.xml": [
        "MAX_DEPTH", "XMLCodec", "XML_CONTENT_TYPE",
    ],
    "ppsp.interfaces": [
        "IChunkSource", "ICodec", "IFindConstraints", "IPeerSelector", "IPeerSelectorPlugin",
        "IPeerStore", "IPollLease", "IRequester", "IRetryCache", "IStatsSource", "IStoreCosts",
        "ISwarmMember", "ISwarmView", "StoreUnavailable",
    ],
    "ppsp.logging": [
        "KEYS", "SECRET_WORDS", "eventAsJSONLine", "jsonFileObserver", "jsonObserver",
    ],
    "ppsp.messages": [
        "AddressType", "AnyRequest", "AnyResponse", "ChunkRange", "ConnectRequest",
        "ConnectResponse", "DisconnectRequest", "DisconnectResponse", "ErrorResponse",
        "FindChunkRequest", "FindChunkResponse", "FindRequest", "FindResponse",
        "JoinChunkRequest", "JoinChunkResponse", "JoinRequest", "JoinResponse",
        "KeepAliveRequest", "KeepAliveResponse", "LeaveRequest", "LeaveResponse", "MAX_CHUNK_ID",
        "Method", "PPSTPConnectRequest", "PPSTPConnectResponse", "PROTOCOL_VERSION",
        "PeerAddress", "PeerInfo", "PeerMode", "ProtocolError", "Request", "Response",
        "ResponseCode", "Stat", "StatQueryRequest", "StatQueryResponse", "StatReportRequest",
        "StatReportResponse", "SwarmAction", "SwarmActionType", "SwarmResult",
    ],
    "ppsp.peer": [
        "AuthenticationRequired", "BadTrackerResponse", "ChunkSet", "MAX_QUERY_BYTES",
        "MAX_RESPONSE_BYTES", "MessageForbidden", "ObjectNotFound", "PeerService",
        "StatQueryResource", "StaticStats", "TLSPolicy", "TemporarilyOverloaded", "TrackerClient",
        "TrackerError", "TrackerUnavailable", "UnsupportedRequest", "makeHTTPClient",
        "statQuerySite",
    ],
    "ppsp.peer.service": [
        "CONNECTING", "PeerService", "REGISTERED", "STOPPED", "UNREACHABLE",
    ],
    "ppsp.peer.sources": [
        "ChunkSet", "StaticStats",
    ],
    "ppsp.peer.tap": [
        "Options", "PeerDaemon", "makeService",
    ],
    "ppsp.plugins": [],
    "ppsp.plugins.ppsp_builtin": [
        "capacity", "chunks", "composite", "locality", "random", "roles",
    ],
    "ppsp.selection": [
        "RandomSelector", "availableSelectors", "makeSelector", "requiresCompleteViews",
    ],
    "ppsp.selection.capacity": [
        "CapacitySelector",
    ],
    "ppsp.selection.chunks": [
        "ChunksSelector", "reach",
    ],
    "ppsp.selection.composite": [
        "CompositeSelector", "DEFAULT",
    ],
    "ppsp.selection.locality": [
        "LocalitySelector", "Networks", "readNetworkMap",
    ],
    "ppsp.selection.random": [
        "RandomSelector",
    ],
    "ppsp.selection.roles": [
        "RolesSelector",
    ],
    "ppsp.testing": [
        "ChunkSet", "FirstSelector", "MemoryTracker", "PeerStoreContractTests", "StaticStats",
    ],
    "ppsp.tracker": [
        "AdminResource", "Expired", "MemberState", "MemoryPeerStore", "Origin", "PeerState",
        "Session", "StatQuerier", "StatQueryService", "SwarmMember", "SwarmState", "Tracker",
        "TrackerConfig", "TrackerResource", "TrackerService", "TrackerSite",
        "makeStatQueryClient",
    ],
    "ppsp.tracker.addresses": [
        "IPAddress", "IPNetwork", "addressKey", "addressScope", "canonicalAddress", "inNetworks",
    ],
    "ppsp.tracker.admin": [
        "ADMIN_REALM", "AdminResource", "DEFAULT_MEMBER_LIMIT", "DEFAULT_PAGE_LIMIT",
        "MAX_MEMBER_LIMIT", "MAX_PAGE_LIMIT", "adminHostName", "exposure", "peerView",
        "swarmView",
    ],
    "ppsp.tracker.bans": [
        "Ban", "Bans", "MAX_BANS", "parseNetwork", "readBanFile",
    ],
    "ppsp.tracker.core": [
        "FindConstraints", "Origin", "SessionOpening", "Tracker", "TrackerConfig",
    ],
    "ppsp.tracker.credentials": [
        "ANONYMOUS", "IPeerCredentials", "MIN_SECRET_BYTES", "OpenPeerChecker", "PeerCredentials",
        "Revocations", "SessionIdentity", "TokenPeerChecker", "X509PeerChecker",
        "credentialFingerprint", "issueToken", "peerIDsOf", "readSecret",
    ],
    "ppsp.tracker.drain": [
        "DEFAULT_DRAIN_TIMEOUT", "GracefulStop", "StopOnSIGTERM",
    ],
    "ppsp.tracker.listening": [
        "BACKLOG_TYPES", "DEFAULT_BACKLOG", "LOOPBACK", "TrustedSourceEndpoint",
        "defaultMaxConnections", "listeningEndpoint", "openFileLimit", "splitDescription",
        "withBacklog",
    ],
    "ppsp.tracker.metrics": [
        "LATENCY_BUCKETS", "Sample", "TrackerMetrics",
    ],
    "ppsp.tracker.outage": [
        "StoreOutage",
    ],
    "ppsp.tracker.overload": [
        "LoadShedder",
    ],
    "ppsp.tracker.peerlist": [
        "PeerInfoCache", "checkedList",
    ],
    "ppsp.tracker.properties": [
        "Compare", "PROPERTIES", "Property", "Scope", "lookup", "parseValue",
    ],
    "ppsp.tracker.redisstore": [
        "RedisAddress", "RedisClient", "RedisCosts", "RedisPeerStore", "connectRedisStore",
        "parseRedisURL",
    ],
    "ppsp.tracker.reload": [
        "BanFile", "ListenerCertificate", "ReloadService", "RevocationFile", "SecretFile",
        "SwarmsFile",
    ],
    "ppsp.tracker.resource": [
        "DEFAULT_MAX_BODY", "DeadlineChannel", "LimitedRequest", "TrackerResource", "TrackerSite",
    ],
    "ppsp.tracker.retry": [
        "MemoryRetryCache", "fingerprint", "retryKey", "stableFingerprint",
    ],
    "ppsp.tracker.rfc7846": [
        "RFC7846Adapter",
    ],
    "ppsp.tracker.service": [
        "AnnouncingEndpoint", "TrackerService",
    ],
    "ppsp.tracker.snapshot": [
        "SnapshotSwarmView", "groupOf", "sampleFrom",
    ],
    "ppsp.tracker.state": [
        "DEFAULT_STATE_INTERVAL", "FORMAT", "SavedState", "StateError", "StateFile",
        "StateLoaded", "StateService", "VERSION", "dumpState", "loadAtStart", "loadState",
        "readState", "restoreState",
    ],
    "ppsp.tracker.statquerier": [
        "BadStatAnswer", "DEFAULT_MAX_ANSWER", "DEFAULT_MAX_IN_FLIGHT", "DEFAULT_TIMEOUT",
        "NoStatPort", "PeerUnreachable", "QueryOutcome", "SoleLease", "StatQuerier", "StatQueryFailed",
        "StatQueryResult", "StatQueryService", "UnknownPeer", "Unreachable",
        "makeStatQueryClient", "statQueryURL",
    ],
    "ppsp.tracker.store": [
        "MemoryCosts", "MemoryPeerStore",
    ],
    "ppsp.tracker.tap": [
        "Options", "authOption", "formatSelectors", "makeService", "readSwarmsFile",
    ],
    "ppsp.tracker.throttle": [
        "AddressThrottle",
    ],
    "ppsp.tracker.tls": [
        "MutualTLSServerParser", "PREFIX", "mutualTLSOptions", "parseMutualTLS",
    ],
    "ppsp.tracker.values": [
        "Expired", "MemberState", "PeerState", "Session", "StatValue", "StatsUpdate",
        "SwarmMember", "SwarmState", "holds",
    ],
}

#: The public packages that stand for private modules: each exports every
#: public name of those modules.
FACADES: Dict[str, List[str]] = {
    "ppsp.peer": ["ppsp.peer._statresource", "ppsp.peer._trackerclient"],
}

#: The modules whose every public top-level name is in their C{__all__}:
#: the packages people import first, and the private modules of the
#: facades.
COMPLETE = [
    "ppsp",
    "ppsp.codec",
    "ppsp.interfaces",
    "ppsp.messages",
    "ppsp.peer",
    "ppsp.selection",
    "ppsp.testing",
    "ppsp.tracker",
    *(module for modules in FACADES.values() for module in modules),
]


def isPrivate(name: str) -> bool:
    """
    Whether a dotted module name is private: it, or a package above it,
    starts with C{_}.
    """
    return any(part.startswith("_") for part in name.split("."))


def modulesOf(package: ModuleType) -> Set[str]:
    """
    The dotted names of the modules of a package, read from its directory
    (not from its C{__path__}, which for L{ppsp.plugins} also holds other
    distributions' plugins), without its tests.
    """
    top = os.path.dirname(os.path.abspath(str(package.__file__)))
    names = set()
    for directory, subdirectories, files in os.walk(top):
        subdirectories[:] = [d for d in subdirectories if d not in ("test", "__pycache__")]
        for fileName in files:
            if not fileName.endswith(".py"):
                continue
            parts = os.path.relpath(os.path.join(directory, fileName[:-3]), top).split(os.sep)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.add(".".join([package.__name__, *parts]))
    return names


def definedNames(module: ModuleType) -> Set[str]:
    """
    The public names a module defines at its top level (classes,
    functions, assignments), as its source says.
    """
    tree = ast.parse(inspect.getsource(module))
    names: Set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


class PublicModulesTests(SynchronousTestCase):
    """
    The public modules are the ones L{PUBLIC} lists, and each exports the
    names it lists.
    """

    def test_everyModuleClassified(self) -> None:
        """
        Every module of ppsp (but its tests) is either listed in
        L{PUBLIC} or private, and every module listed exists.
        """
        found = modulesOf(ppsp)
        self.assertEqual(sorted(name for name in found if not isPrivate(name)), sorted(PUBLIC))

    def test_noPrivateListed(self) -> None:
        """
        No module listed as public has a private name.
        """
        self.assertEqual([name for name in PUBLIC if isPrivate(name)], [])

    def test_exports(self) -> None:
        """
        Each public module's C{__all__} holds the names L{PUBLIC} lists
        for it, once each.
        """
        for name, expected in PUBLIC.items():
            exported = list(importlib.import_module(name).__all__)
            self.assertEqual(sorted(exported), sorted(expected), name)
            self.assertEqual(len(set(exported)), len(exported), name)

    def test_namesExist(self) -> None:
        """
        Every name in a public module's C{__all__} is there.
        """
        for name in PUBLIC:
            module = importlib.import_module(name)
            missing = [n for n in module.__all__ if not hasattr(module, n)]
            self.assertEqual(missing, [], name)


class FacadeTests(SynchronousTestCase):
    """
    A package that re-exports names agrees with the modules they come
    from.
    """

    def test_facadesExportTheirModules(self) -> None:
        """
        A facade exports every name of the private modules behind it, as
        the same object.
        """
        for facadeName, moduleNames in FACADES.items():
            facade = importlib.import_module(facadeName)
            for moduleName in moduleNames:
                module = importlib.import_module(moduleName)
                self.assertEqual(sorted(set(module.__all__) - set(facade.__all__)), [], moduleName)
                for name in module.__all__:
                    self.assertIs(getattr(facade, name), getattr(module, name), name)

    def test_everyPublicNameExported(self) -> None:
        """
        In the packages people import first and in the facades' private
        modules, every public top-level name is in C{__all__}: a name
        meant for ppsp alone starts with C{_}.
        """
        for name in COMPLETE:
            module = importlib.import_module(name)
            self.assertEqual(sorted(definedNames(module) - set(module.__all__)), [], name)

    def test_reexportsArePublic(self) -> None:
        """
        A class or function that a public module exports but another
        module of ppsp defines is exported by that module too, so that
        both agree on what is public.
        """
        for name in PUBLIC:
            module = importlib.import_module(name)
            for exported in module.__all__:
                value = getattr(module, exported)
                if not (inspect.isclass(value) or inspect.isfunction(value)):
                    continue
                home = value.__module__
                if home == name or not home.startswith("ppsp."):
                    continue
                self.assertIn(exported, importlib.import_module(home).__all__, f"{name}.{exported}")
