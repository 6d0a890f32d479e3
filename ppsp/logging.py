# -*- test-case-name: ppsp.test.test_deploy -*-
"""
JSON logs: one JSON object per line, for log shippers and C{jq}.

twistd takes the observer factory by name::

    twistd --logger=ppsp.logging.jsonObserver -n ppsp-tracker --listen tcp:7000

Each line is one object with these keys:

  - C{time}: when the event happened, ISO 8601 in UTC with microseconds
    (C{"2026-12-03T14:32:23.123456Z"});
  - C{level}: C{debug}, C{info}, C{warn}, C{error} or C{critical};
  - C{namespace}: the logger's namespace (the module and class that
    logged, e.g. C{ppsp.tracker.core.Tracker});
  - C{text}: the event as a sentence, as the text log writes it;
  - C{failure}: the traceback, for an event that carries one (a failure
    inside the tracker);
  - then the event's own fields (C{peerID}, C{peer}, C{reason}, …) whose
    values are JSON values (strings, numbers, booleans, null, and lists
    and objects of them), except those whose names start with C{log_} or
    C{_}, name one of the keys above, or look like a secret (see
    L{SECRET_WORDS}).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import IO, Any, Dict, Optional

from twisted.logger import FileLogObserver, ILogObserver, LogLevel, formatEvent

__all__ = ["jsonObserver", "jsonFileObserver", "eventAsJSONLine", "SECRET_WORDS", "KEYS"]

#: The keys every line has (C{failure} only for an event with a failure).
KEYS = ("time", "level", "namespace", "text")

#: A field whose name contains one of these (in any case) is never
#: written: credentials, tokens and secrets stay out of the log even when
#: an event carries one.
SECRET_WORDS = ("secret", "password", "passwd", "token", "credential", "authorization", "cer", "key")

_RESERVED = frozenset(KEYS) | {"failure"}
_SCALARS = (str, int, float, bool, type(None))


def _isJSON(value: Any, depth: int = 0) -> bool:
    """
    Whether C{value} is a JSON value as it is (no conversion, no cycle).
    """
    if isinstance(value, _SCALARS):
        return not (isinstance(value, float) and value != value) and value not in (
            float("inf"),
            float("-inf"),
        )
    if depth > 8:
        return False
    if isinstance(value, (list, tuple)):
        return all(_isJSON(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(
            isinstance(k, str) and _isJSON(v, depth + 1) for k, v in value.items()
        )
    return False


def _secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def eventAsJSONLine(event: Dict[str, Any]) -> str:
    """
    One log event as a line of JSON (with its line feed), as
    L{jsonObserver} writes it (see the module docstring for the keys).
    """
    level: Optional[LogLevel] = event.get("log_level")
    seconds = event.get("log_time")
    if not isinstance(seconds, (int, float)):
        seconds = datetime.now(timezone.utc).timestamp()
    record: Dict[str, Any] = {
        "time": datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "level": level.name if level is not None else "info",
        "namespace": event.get("log_namespace", "-"),
        "text": formatEvent(event),
    }
    failure = event.get("log_failure")
    if failure is not None:
        try:
            record["failure"] = failure.getTraceback()
        except Exception:
            record["failure"] = repr(failure)
    for name, value in event.items():
        if (
            name.startswith(("log_", "_"))
            or name in _RESERVED
            or _secret(name)
            or not _isJSON(value)
        ):
            continue
        record[name] = value
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def jsonFileObserver(outFile: IO[str]) -> ILogObserver:
    """
    An observer that writes each event to C{outFile} as one line of JSON
    (L{eventAsJSONLine}).
    """
    return FileLogObserver(outFile, eventAsJSONLine)


def jsonObserver() -> ILogObserver:
    """
    A log observer factory for C{twistd --logger=ppsp.logging.jsonObserver}:
    every event, one line of JSON each, on standard output (the systemd
    journal, or wherever the service manager sends it), as it is when
    twistd sets logging up.  twistd's C{--logfile} does not apply to it;
    run twistd in the foreground (C{-n}), since a daemon's standard output
    goes nowhere.
    """
    return jsonFileObserver(sys.stdout)
