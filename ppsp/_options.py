# -*- test-case-name: ppsp.test.test_config -*-
"""
What the command lines of C{twistd ppsp-tracker} and C{twistd ppsp-peer}
share: usage errors that exit 64, and the C{--config FILE} option.

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
import os
import re
import sys
from typing import AbstractSet, Any, Dict, FrozenSet, List, Optional, Sequence, Set, Tuple

from twisted.python import usage

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["ServiceOptions", "FLAG", "PARAMETER", "REPEATABLE"]

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


def _logFormat(value: str) -> str:
    if value not in ("text", "json"):
        raise ValueError("give text or json")
    return value


class ServiceOptions(usage.Options):
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
        except usage.UsageError as e:
            if getattr(self, "parent", None) is None:
                raise
            sys.stderr.write(f"{self}\nError: {e}\n")
            raise SystemExit(os.EX_USAGE) from None
