"""Names and detection times of an environment's rollback alarms.

Alarm names are stable across versions (<endpoint>-rollback-<kind>): the endpoint's
auto_rollback_configuration lists them, so a new version never changes the endpoint's rollback settings.
(Older releases of the Terraform AWS provider replaced the endpoint when that list changed; with 5.100.0 a
real plan shows an in-place update, which tests/test_review.py checks.)
"""

from __future__ import annotations

from tritonform.config.environment import AlarmWindow, EnvironmentConfig
from tritonform.config.rollout import AlarmTiming

BUILT_IN_SUFFIXES = {
    "invocation_5xx_errors": "5xx-errors",
    "model_errors": "model-errors",
    "model_latency_p99": "latency-p99",
}


def alarm_name(endpoint_name: str, suffix: str) -> str:
    return f"{endpoint_name}-rollback-{suffix}"


def rollback_alarm_windows(env: EnvironmentConfig) -> list[tuple[str, AlarmWindow]]:
    """Every configured alarm as (name, window), built-in ones first, in a fixed order."""
    alarms = env.rollback_alarms
    windows: list[tuple[str, AlarmWindow]] = []
    for attribute, suffix in BUILT_IN_SUFFIXES.items():
        window = getattr(alarms, attribute)
        if window is not None:
            windows.append((alarm_name(env.endpoint.name, suffix), window))
    windows += [(alarm_name(env.endpoint.name, extra.name), extra) for extra in alarms.extra]
    return windows


def rollback_alarm_names(env: EnvironmentConfig) -> list[str]:
    return [name for name, _ in rollback_alarm_windows(env)]


def alarm_timings(env: EnvironmentConfig) -> list[AlarmTiming]:
    return [
        AlarmTiming(name, window.period_s, window.datapoints, env.rollback_alarms.metric_delay_s)
        for name, window in rollback_alarm_windows(env)
    ]
