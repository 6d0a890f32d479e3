"""
C{twistd}, with two meters for the diagnosis of the HTTP benchmark (used by
C{run.py --instrument}; the headline figures come from plain twistd):

  - the time spent in the cyclic garbage collector, by generation (with
    C{gc.callbacks});
  - the time spent in C{Tracker.expire} (the once-a-second sweep), in
    C{Tracker.handle}, in the codec's C{decodeRequest} and C{encodeResponse}
    and in C{TrackerResource.render} (all of the resource's work), by
    wrapping the methods before the service is built (about 1 us each).

On SIGUSR1 it writes the totals so far as one JSON object to the file
named by the environment variable C{PPSP_BENCH_STATS}; C{run.py} takes the
difference around each run.

    PPSP_BENCH_STATS=stats.json python benchmarks/instrumented_twistd.py -n ppsp-tracker ...
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys
import time
from typing import Any, Dict, List

_stats: Dict[str, Any] = {
    "gc": {str(g): {"count": 0, "seconds": 0.0, "max": 0.0, "collected": 0} for g in range(3)},
    "expire": {"count": 0, "seconds": 0.0, "max": 0.0},
}
_gcStart: List[float] = [0.0]


def _onGC(phase: str, info: Dict[str, int]) -> None:
    if phase == "start":
        _gcStart[0] = time.perf_counter()
        return
    took = time.perf_counter() - _gcStart[0]
    entry = _stats["gc"][str(info["generation"])]
    entry["count"] += 1
    entry["seconds"] += took
    entry["collected"] += info.get("collected", 0)
    if took > entry["max"]:
        entry["max"] = took


def _dump(signum: int, frame: Any) -> None:
    path = os.environ.get("PPSP_BENCH_STATS")
    if not path:
        return
    with open(path + ".tmp", "w") as f:
        json.dump({"time": time.monotonic(), **_stats}, f)
    os.replace(path + ".tmp", path)


def _timed(cls: Any, name: str, key: str) -> None:
    """
    Replace C{cls.name} by a wrapper that adds its time to C{_stats[key]}.
    Calls of the same meter inside one another count once (the outer).
    """
    original = getattr(cls, name)
    entry = _stats.setdefault(key, {"count": 0, "seconds": 0.0, "max": 0.0})
    depth = [0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if depth[0]:
            return original(*args, **kwargs)
        depth[0] += 1
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            took = time.perf_counter() - started
            depth[0] -= 1
            entry["count"] += 1
            entry["seconds"] += took
            if took > entry["max"]:
                entry["max"] = took

    setattr(cls, name, wrapper)


def _instrument() -> None:
    from ppsp.codec.xml import XMLCodec
    from ppsp.tracker.core import Tracker
    from ppsp.tracker.resource import TrackerResource

    _timed(Tracker, "expire", "expire")
    _timed(Tracker, "handle", "handle")
    _timed(XMLCodec, "decodeRequest", "decode")
    _timed(XMLCodec, "encodeResponse", "encode")
    _timed(TrackerResource, "render", "render")


def main() -> None:
    gc.callbacks.append(_onGC)
    signal.signal(signal.SIGUSR1, _dump)
    _instrument()
    from twisted.scripts.twistd import run

    sys.argv = ["twistd"] + sys.argv[1:]
    run()


if __name__ == "__main__":
    main()
