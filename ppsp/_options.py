# -*- test-case-name: ppsp.test.test_config -*-
"""
What the command lines of C{twistd ppsp-tracker}, C{twistd ppsp-peer} and
C{python -m ppsp.client} share: usage errors that exit 64, the
C{--config FILE} option of the two plugins, and the readers of option
values (numbers, durations, C{SWARM[:MODE]}, C{IP:PORT}, C{--encoding}).

A config file is TOML whose top-level keys are the long option names::

    listen = "tcp:7000:interface=127.0.0.1"
    keepalive-interval = 60
    trust-announced-addresses = true   # a flag: true or false
    trusted-proxy = ["10.0.0.0/8"]     # a repeatable option: an array

Each value goes through the option's own machinery (its coercer, or its
C{opt_} method, then C{postOptions}), exactly as if it had been given on
the command line, so that a value is checked in one place only.  An option
given on the command line overrides the file's key (a repeatable option
given on the command line replaces the file's whole array).
"""

from __future__ import annotations

import getopt
import ipaddress
import math
import os
import re
import sys
from typing import (
    AbstractSet,
    Any,
    Callable,
    Dict,
    FrozenSet,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    TypeVar,
)
from urllib.parse import urlsplit

from twisted.internet.protocol import Factory
from twisted.internet.testing import MemoryReactor
from twisted.python import usage

from ppsp._listen import installOneLineErrors
from ppsp.codec import JSON_CODEC, XML_CODEC
from ppsp.codec.identifiers import identifierRule, validIdentifier
from ppsp.interfaces import ICodec
from ppsp.messages import PeerAddress, PeerMode

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "CommandOptions",
    "plainText",
    "ServiceOptions",
    "FLAG",
    "PARAMETER",
    "REPEATABLE",
    "positiveInt",
    "nonNegativeInt",
    "portNumber",
    "byteSize",
    "positiveSeconds",
    "nonNegativeSeconds",
    "parseSwarm",
    "parseMode",
    "parseAddress",
    "codecNamed",
    "checkPorts",
    "checkTrackerURL",
    "ProbeReactor",
]

#: The kinds of config file keys (L{ServiceOptions.configKeys}).
FLAG = "flag"
PARAMETER = "parameter"
REPEATABLE = "repeatable"

_TYPE_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array"}


def _typeName(value: Any) -> str:
    for kind in (bool, int, float, str, list):
        if isinstance(value, kind):
            return _TYPE_NAMES[kind]
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def keyLine(text: str, key: str) -> int:
    """
    The line on which a top-level key of a TOML document is set (C{key =},
    C{"key" =}, a dotted C{key.sub =} or a table header C{[key]}), or 0 when
    it is not found.  C{tomllib} keeps no positions; TOML forbids setting a
    key twice, so the first such line is the one.
    """
    name = re.escape(key)
    pattern = re.compile(
        rf"^[ \t]*(?:\[+[ \t]*)?(?:{name}|\"{name}\"|'{name}')[ \t]*[=.\]]", re.MULTILINE
    )
    match = pattern.search(text)
    if match is None:
        return 0
    return text.count("\n", 0, match.start()) + 1


_C = TypeVar("_C", bound=Callable[[str], Any])


def _coercer(doc: str, configTypes: Tuple[type, ...]) -> Callable[[_C], _C]:
    """
    Mark an option coercer with what C{--help} says of its values
    (Twisted's C{coerceDoc}) and the TOML types a config file may give
    (C{configTypes}, see L{ServiceOptions.configTypes}).
    """

    def mark(coerce: _C) -> _C:
        setattr(coerce, "coerceDoc", doc)
        setattr(coerce, "configTypes", configTypes)
        return coerce

    return mark


def _wholeNumber(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"must be {what}") from None


def _number(text: str, what: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"must be {what}") from None
    if not math.isfinite(value):
        raise ValueError(f"must be {what}")
    return value


@_coercer("A whole number of at least 1.", (int,))
def positiveInt(text: str) -> int:
    """
    An option value that is a whole number of at least 1.

    @raise ValueError: anything else (the message says what is expected).
    """
    value = _wholeNumber(text, "a whole number of at least 1")
    if value < 1:
        raise ValueError("must be a whole number of at least 1")
    return value


@_coercer("A whole number, 0 or more.", (int,))
def nonNegativeInt(text: str) -> int:
    """
    An option value that is a whole number, 0 or more.

    @raise ValueError: anything else.
    """
    value = _wholeNumber(text, "a whole number, 0 or more")
    if value < 0:
        raise ValueError("must be a whole number, 0 or more")
    return value


@_coercer("A port number, 1 to 65535.", (int,))
def portNumber(text: str) -> int:
    """
    An option value that is a port number, 1 to 65535.

    @raise ValueError: anything else.
    """
    value = _wholeNumber(text, "a port number, 1 to 65535")
    if not 1 <= value <= 65535:
        raise ValueError("must be a port number, 1 to 65535")
    return value


_SIZE_UNITS = {"": 1, "B": 1, "K": 2**10, "KIB": 2**10, "M": 2**20, "MIB": 2**20, "G": 2**30, "GIB": 2**30}


@_coercer("Bytes, optionally with K, M or G (binary units); 0 for no budget.", (int, str))
def byteSize(text: str) -> int:
    """
    A number of bytes, optionally with a binary unit: C{16M}, C{512KiB},
    C{16777216}.

    @raise ValueError: anything else.
    """
    number = text.strip().upper()
    digits = number.rstrip("KMGIB")
    unit = _SIZE_UNITS.get(number[len(digits):].strip())
    if unit is None or not digits.strip().isdigit():
        raise ValueError("must be a number of bytes, optionally followed by K, M or G")
    return int(digits) * unit


@_coercer("Seconds, more than 0.", (int, float))
def positiveSeconds(text: str) -> float:
    """
    An option value that is a number of seconds, more than 0.

    @raise ValueError: anything else.
    """
    value = _number(text, "a number of seconds, more than 0")
    if not value > 0:
        raise ValueError("must be a number of seconds, more than 0")
    return value


@_coercer("Seconds, 0 or more.", (int, float))
def nonNegativeSeconds(text: str) -> float:
    """
    An option value that is a number of seconds, 0 or more.

    @raise ValueError: anything else.
    """
    value = _number(text, "a number of seconds, 0 or more")
    if not value >= 0:
        raise ValueError("must be a number of seconds, 0 or more")
    return value


_MODES = "LEECH, SEED or LIVESEED"


def parseMode(text: str) -> PeerMode:
    """
    A peer mode named on a command line: C{LEECH}, C{SEED} or
    C{LIVESEED}, in any case.

    @raise ValueError: another word.
    """
    try:
        return PeerMode[text.strip().upper()]
    except KeyError:
        raise ValueError(f"unknown mode {text!r}: give {_MODES}") from None


def parseSwarm(text: str) -> Tuple[str, PeerMode]:
    """
    A C{SWARM[:MODE]} value (C{ppsp-peer --swarm}, C{python -m ppsp.client
    join}): a SwarmID, optionally followed by a colon and a mode (LEECH,
    SEED or LIVESEED, in any case; LEECH when absent).  What follows the
    last colon is always the mode, so a SwarmID that itself holds a colon
    is written with its mode: C{urn:live:LEECH}.

    @raise ValueError: an unknown mode, or an invalid SwarmID.
    """
    swarmID, sep, mode = text.rpartition(":")
    if sep:
        try:
            peerMode = parseMode(mode)
        except ValueError:
            raise ValueError(
                f"{text!r}: unknown mode {mode!r} after the last colon: give SWARM or "
                f"SWARM:MODE with MODE {_MODES} (a SwarmID with a colon is written with "
                "its mode, e.g. urn:live:LEECH)"
            ) from None
    else:
        swarmID, peerMode = text, PeerMode.LEECH
    if not validIdentifier(swarmID):
        raise ValueError(f"{swarmID!r} is not a valid SwarmID ({identifierRule()})")
    return swarmID, peerMode


def parseAddress(text: str) -> PeerAddress:
    """
    An C{IP:PORT} (C{[IPv6]:PORT}) option value as a HOST L{PeerAddress}.

    @raise ValueError: not an address and port.
    """
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ValueError(f"{text!r} is not IP:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        ip = ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise ValueError(f"{text!r} is not IP:PORT") from None
    if not 0 < number < 65536:
        raise ValueError(f"{text!r}: the port must be 1 to 65535")
    return PeerAddress(str(ip), number)


def codecNamed(name: str) -> ICodec:
    """
    The codec an C{--encoding} option names: C{xml} or C{json}.

    @raise KeyError: neither.
    """
    return {"xml": XML_CODEC, "json": JSON_CODEC}[name.strip().lower()]


def checkTrackerURL(url: str, option: str = "--tracker") -> str:
    """
    Check a tracker's URL given on a command line: C{http://} or
    C{https://}, with a host.

    @return: C{url}.
    @raise usage.UsageError: anything else, naming C{option}.
    """
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname
    except ValueError:
        scheme, host = "", None
    if scheme not in ("http", "https") or not host:
        raise usage.UsageError(f"{option} {url!r} is not an http:// or https:// URL")
    return url


class ProbeReactor(MemoryReactor):
    """
    A L{MemoryReactor} to build an endpoint on for L{checkPorts}: it
    refuses to adopt a file descriptor, so that probing a C{systemd:}
    endpoint leaves the socket it names open (an adopting endpoint closes
    its descriptor once the reactor has adopted it).
    """

    def adoptStreamPort(self, fileDescriptor: int, addressFamily: Any, factory: Any) -> Any:
        raise NotImplementedError("a probe adopts nothing")

    def adoptStreamConnection(self, fileDescriptor: int, addressFamily: Any, factory: Any) -> Any:
        raise NotImplementedError("a probe adopts nothing")

    def adoptDatagramPort(self, fileDescriptor: int, addressFamily: Any, protocol: Any, maxPacketSize: int = 8192) -> Any:
        raise NotImplementedError("a probe adopts nothing")


def checkPorts(reactor: ProbeReactor, endpoint: Any) -> None:
    """
    Check the port numbers a server endpoint would listen on, by listening
    with it on the L{ProbeReactor} it was built with (which binds
    nothing): a description such as C{tcp:99999} parses, and would
    otherwise fail only when the service starts.

    @param reactor: the probe reactor C{endpoint} was built on.
    @param endpoint: the server endpoint.
    @raise ValueError: a port is out of range.
    """
    try:
        endpoint.listen(Factory())
    except Exception:
        return  # not this check's business: the real listener reports it
    for entry in reactor.tcpServers + reactor.sslServers:
        port = entry[0]
        if isinstance(port, int) and not 0 <= port <= 65535:
            raise ValueError(f"port {port} is out of range (0 to 65535)")


def _logFormat(value: str) -> str:
    if value not in ("text", "json"):
        raise ValueError("give text or json")
    return value


_MARKUP = re.compile(r"[BCIL]\{([^{}]*)\}")


def plainText(text: str) -> str:
    """
    A docstring as one paragraph of C{--help}: epytext markup
    (C{CE{lb}...E{rb}}, C{LE{lb}...E{rb}}) taken off, and the line breaks and indentation
    of the source folded into single spaces.
    """
    return " ".join(_MARKUP.sub(r"\1", text).split())


class _NamedCoerce(usage.CoerceParameter):
    """
    A coerced parameter whose refusal names the option and the value
    (Twisted's says "Parameter type enforcement failed").
    """

    def dispatch(self, parameterName: str, value: Optional[str]) -> None:
        if value is None:
            raise usage.UsageError(f"--{parameterName} needs a value")
        try:
            coerced = self.coerce(value)
        except ValueError as e:
            raise usage.UsageError(f"--{parameterName} {value!r}: {e}") from None
        self.options.opts[parameterName] = coerced


class CommandOptions(usage.Options):
    """
    Options of a ppsp command line: C{--help} shows plain text (no
    epytext markup, no source indentation), a value an option's coercer
    refuses is reported with the option's name, and C{--version} gives
    ppsp's version as well as Twisted's.

    A class without C{longdesc} describes itself with its own docstring.
    """

    def __init__(self) -> None:
        super().__init__()
        for name, handler in list(self._dispatch.items()):
            if type(handler) is usage.CoerceParameter:
                self._dispatch[name] = _NamedCoerce(self, handler.coerce)
        for name, doc in list(self.docs.items()):
            if not isinstance(doc, str):
                continue
            doc = plainText(doc)
            handler = self._dispatch.get(name)
            if isinstance(handler, usage.CoerceParameter) and handler.doc:
                # Twisted adds ". " and the coercer's words after the text
                # (and its default).
                doc = doc.rstrip(".")
            self.docs[name] = doc
        if getattr(self, "longdesc", None) is None:
            self.longdesc = plainText(type(self).__dict__.get("__doc__") or "")

    def opt_version(self) -> None:
        """
        Display the versions of ppsp and Twisted and exit.
        """
        from twisted import copyright

        import ppsp

        sys.stdout.write(f"ppsp {ppsp.__version__} (Twisted {copyright.version})\n")
        raise SystemExit(0)


class ServiceOptions(CommandOptions):
    """
    Options of a twistd plugin.  Run as a twistd (or twist) subcommand, a
    usage error prints the usage and the error and exits with status 64
    (C{EX_USAGE}), under both runners (twistd alone would exit 1); used
    directly, it raises L{usage.UsageError}.

    C{--config FILE} reads settings from a TOML file first (see the
    module's documentation); the options on the command line override it.

    @ivar configFile: the config file given, or L{None}.
    @ivar configLines: the line of the config file that set each option
        taken from it, by long option name.
    """

    optParameters: List[List[Any]] = [
        ["log-format", None, "text", "text (the runner's own lines) or json: one JSON object per line (ppsp.logging), under twistd and twist alike.", _logFormat],
    ]

    #: Options that act rather than set (or that name the file itself):
    #: not keys of a config file.
    notInConfigFile: FrozenSet[str] = frozenset({"config", "help", "version"})

    def __init__(self) -> None:
        super().__init__()
        self.configFile: Optional[str] = None
        self.configLines: Dict[str, int] = {}

    def _applyLogFormat(self) -> None:
        """
        Ask the runner this plugin runs under for JSON lines: twistd takes
        a log observer factory by name (its C{--logger}, read after the
        plugin's options), twist a file observer factory (what its own
        C{--log-format} sets).  Used directly, there is no runner: the
        embedder sets logging up.
        """
        if self["log-format"] != "json":
            return
        parent = getattr(self, "parent", None)
        if parent is None:
            return
        if "fileLogObserverFactory" in parent:
            from ppsp.logging import jsonFileObserver

            parent["fileLogObserverFactory"] = jsonFileObserver
            parent["logFormat"] = "json"
        elif "logger" in parent:
            parent["logger"] = "ppsp.logging.jsonObserver"

    def opt_config(self, path: str) -> None:
        """
        A TOML file of settings, one top-level key per option, named by
        its long name (listen = "tcp:7000", keepalive-interval = 60, flags
        true or false, repeatable options as arrays); the options on the
        command line override it.
        """
        # Read and applied by parseOptions before the command line.
        self.configFile = path

    def configKeys(self) -> Dict[str, str]:
        """
        The keys a config file may set, each with its kind: L{FLAG} (a
        boolean), L{PARAMETER} (one value) or L{REPEATABLE} (an array of
        strings, for an option given once per value).
        """
        keys: Dict[str, str] = {}
        for spelling in self.longOpt:
            name = spelling.rstrip("=")
            if name in self.notInConfigFile or self.synonyms.get(name, name) != name:
                continue
            handler = self._dispatch.get(name)
            if isinstance(handler, usage.CoerceParameter):
                keys[name] = PARAMETER
            elif spelling.endswith("="):
                keys[name] = REPEATABLE
            elif handler == self._generic_flag:
                keys[name] = FLAG
        return keys

    def configTypes(self, name: str) -> Tuple[type, ...]:
        """
        The TOML types a parameter's value may have in a config file: those
        its coercer lists as C{configTypes}; a string for a parameter
        without a coercer; an integer for C{int}; a number for C{float}.
        """
        coerce = self._dispatch[name].coerce
        types: Optional[Tuple[type, ...]] = getattr(coerce, "configTypes", None)
        if types is not None:
            return types
        if coerce is str:
            return (str,)
        if coerce is int:
            return (int,)
        if coerce is float:
            return (int, float)
        return (str, int, float)

    def _givenOptions(self, options: Sequence[str]) -> Tuple[Set[str], Optional[str]]:
        """
        The long names of the options on a command line, and the last
        C{--config} value; nothing when the line does not parse (the real
        parse then reports why).
        """
        try:
            opts, _ = getopt.getopt(list(options), self.shortOpt, self.longOpt)
        except getopt.error:
            return set(), None
        given: Set[str] = set()
        path = None
        for opt, arg in opts:
            name = opt[2:] if opt.startswith("--") else opt[1:]
            name = self.synonyms.get(name, self.synonyms.get(name.replace("-", "_"), name))
            given.add(name)
            if name == "config":
                path = arg
        return given, path

    def readConfigFile(self, path: str, skip: AbstractSet[str] = frozenset()) -> None:
        """
        Apply the settings of a config file, except those named in
        C{skip} (given on the command line).

        @raise usage.UsageError: the file cannot be read or is not TOML, or
            a key is unknown, of the wrong type or has a value its option
            refuses; the message names the file, the line and the key.
        """
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise usage.UsageError(f"cannot read the config file {path!r}: {e}") from None
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise usage.UsageError(f"{path}: not a valid TOML file: {e}") from None
        keys = self.configKeys()
        self.configFile = path
        for key, value in document.items():
            line = keyLine(text, key)
            where = f"{path}:{line}: " if line else f"{path}: "
            kind = keys.get(key)
            if isinstance(value, dict):
                raise usage.UsageError(
                    f"{where}{key}: tables are not supported; write top-level key = value lines"
                )
            if kind is None:
                raise usage.UsageError(
                    f"{where}unknown key {key!r} (the keys are the long option names)"
                )
            if key in skip:
                continue
            self._applyConfigValue(key, kind, value, where)
            self.configLines[key] = line

    def _applyConfigValue(self, key: str, kind: str, value: Any, where: str) -> None:
        """
        Set one option from a config file value, through the option's own
        machinery.
        """
        if kind == FLAG:
            if not isinstance(value, bool):
                raise usage.UsageError(f"{where}{key} must be true or false, not {_typeName(value)}")
            self[key] = 1 if value else 0
            return
        if kind == REPEATABLE:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise usage.UsageError(
                    f"{where}{key} must be an array of strings, not {_typeName(value)}"
                )
            for item in value:
                try:
                    self._dispatch[key](key, item)
                except usage.UsageError as e:
                    raise usage.UsageError(f"{where}{e}") from None
            return
        types = self.configTypes(key)
        if isinstance(value, bool) or not isinstance(value, types):
            expected = " or ".join(_TYPE_NAMES[t] for t in types)
            raise usage.UsageError(f"{where}{key} must be {expected}, not {_typeName(value)}")
        try:
            self[key] = self._dispatch[key].coerce(value if isinstance(value, str) else str(value))
        except ValueError as e:
            raise usage.UsageError(f"{where}{key} = {value!r}: {e}") from None

    def _fromConfigFile(self, message: str) -> str:
        """
        A usage error's message, followed by where the config file set the
        first option it names when that option came from the file.
        """
        for name in re.findall(r"--([a-z0-9][a-z0-9-]*)", message):
            line = self.configLines.get(name)
            if line is not None:
                return f"{message} (set at {self.configFile}:{line})" if line else message
        return message

    def parseOptions(self, options: Optional[Sequence[str]] = None) -> None:
        """
        Parse the command line, after the config file it names, if any.
        """
        if options is None:
            options = sys.argv[1:]
        try:
            given, path = self._givenOptions(options)
            if path is not None:
                self.readConfigFile(path, given)
            try:
                super().parseOptions(options)
            except usage.UsageError as e:
                raise usage.UsageError(self._fromConfigFile(str(e))) from None
            self._applyLogFormat()
            if getattr(self, "parent", None) is not None:
                # Under twistd or twist: a listener that cannot start ends
                # the process with one line, not a traceback.
                installOneLineErrors()
        except usage.UsageError as e:
            if getattr(self, "parent", None) is None:
                raise
            sys.stderr.write(f"{self}\nError: {e}\n")
            raise SystemExit(os.EX_USAGE) from None
