"""An environment's hardening state, described once: each control it runs without and the recorded exception.

`tritonform check`, the serving stack's `security_exceptions` output and the plan review all show this state;
they take it from `hardening_state` and the exception from `ControlOff.exception_record`, so the three
cannot drift apart. Each one only frames the lines for its reader (a terminal, Terraform, a pull request).
"""

from __future__ import annotations

from dataclasses import dataclass

from tritonform.config.environment import EnvironmentConfig, HardeningControl, SecurityException, weakened_controls

# The stack output that records the controls that are off, so a plan shows when they change.
SECURITY_EXCEPTIONS_OUTPUT = "security_exceptions"


@dataclass(frozen=True)
class ControlOff:
    """A hardening control the environment runs without, and the exception that records why (if any)."""

    control: HardeningControl
    exception: SecurityException | None

    @property
    def name(self) -> str:
        return self.control.name

    @property
    def field(self) -> str:
        """The setting that turns the control off, dotted from the environment file's top."""
        return self.control.field

    def exception_record(self, *, with_reason: bool = True) -> str | None:
        """The recorded exception as one phrase, "SEC-1234, approved by security: <reason>"; None if none.

        Without the reason for the stack output, whose value every synthesized stack already pins.
        """
        if self.exception is None:
            return None
        record = f"{self.exception.ticket}, approved by {self.exception.approved_by}"
        return f"{record}: {self.exception.reason}" if with_reason else record


def hardening_state(env: EnvironmentConfig) -> tuple[ControlOff, ...]:
    """Every hardening control the environment runs without, in a fixed order; empty when all are on."""
    return tuple(ControlOff(control, env.security_exception(control.name)) for control in weakened_controls(env))


def security_exceptions_output(env: EnvironmentConfig) -> list[str]:
    """The value of the stack's `security_exceptions` output: "<control>: <exception record>" for each."""
    return [f"{off.name}: {off.exception_record(with_reason=False) or 'no exception'}" for off in hardening_state(env)]
