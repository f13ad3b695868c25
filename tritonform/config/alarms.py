"""Detection times of an environment's rollback alarms (their names are in tritonform.config.names)."""

from __future__ import annotations

from tritonform.config.environment import EnvironmentConfig
from tritonform.config.names import named_rollback_alarms
from tritonform.config.rollout import AlarmTiming


def alarm_timings(env: EnvironmentConfig) -> list[AlarmTiming]:
    return [
        AlarmTiming(name, window.period_s, window.datapoints, env.rollback_alarms.metric_delay_s)
        for name, window in named_rollback_alarms(env)
    ]
