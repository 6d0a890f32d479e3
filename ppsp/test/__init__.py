"""
Tests for ppsp.

Hypothesis runs without its timing checks (no per-example deadline, no
"too slow" health check): speed is measured in benchmarks/, never in unit
tests, and a loaded machine must not fail a test that is correct.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ppsp", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ppsp")
