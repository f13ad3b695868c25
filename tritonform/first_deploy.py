"""The first deploy of a new environment (`tritonform synth --env NEW --bootstrap`): its artifact store alone.

The order, which README's workflow spells out: synthesize and apply the bootstrap stack (the bucket), then
`release package`, `publish` and `attach` as for any release, then synthesize and apply the full stack,
which continues the bootstrap stack's state (tritonform/stacks/bootstrap.py says why that is safe).

Only an environment without a release file is bootstrapped: one with a release may already run its
endpoint, and a stack of the store alone applied to its state would destroy the endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tritonform._node import prepare_jsii_node
from tritonform.config import EnvironmentConfig, ProjectLayout
from tritonform.config.loader import check_unique, load_environment
from tritonform.config.names import serving_stack_name
from tritonform.errors import Problem, UserError
from tritonform.synth import StateBackendKind


@dataclass(frozen=True)
class BootstrapStackFiles:
    environment: EnvironmentConfig
    directory: Path

    @property
    def json_path(self) -> Path:
        return self.directory / "cdk.tf.json"


def load_new_environments(layout: ProjectLayout, names: list[str] | None) -> list[EnvironmentConfig]:
    """The named environments, each checked, none with a release yet, and none sharing a bucket or an
    endpoint with another environment."""
    if not names:
        raise UserError.single("--bootstrap needs --env NAME: it is the first deploy of one new environment")
    environments: list[EnvironmentConfig] = []
    problems: list[Problem] = []
    for name in dict.fromkeys(names):
        try:
            environment = load_environment(layout, layout.require_environment(name))
        except UserError as err:
            problems.extend(err.problems)
            continue
        if not layout.is_new(name):
            problems.append(Problem(file=layout.release_file(name), field=None, message=(
                f"{name} has a release or a history of releases, so it is not new: synthesize its full stack "
                f"(tritonform synth --env {name}); a bootstrap stack applied to its state would destroy its "
                "endpoint")))  # fmt: skip
            continue
        environments.append(environment)
    if problems:
        raise UserError(problems)
    check_unique(layout, environments)
    return environments


def synthesize_bootstrap(
    layout: ProjectLayout,
    outdir: Path,
    names: list[str] | None,
    state_backend: StateBackendKind = "s3",
    stand_in_endpoint: str | None = None,
) -> list[BootstrapStackFiles]:
    environments = load_new_environments(layout, names)
    prepare_jsii_node()  # before cdktf is imported (see synth.build_app)
    from cdktf import App  # noqa: PLC0415  (config errors stay fast: no Node.js start for them)

    from tritonform.stacks.bootstrap import BootstrapStack, BootstrapStackProps  # noqa: PLC0415  (imports cdktf)

    outdir.mkdir(parents=True, exist_ok=True)  # cdktf creates only the last level
    app = App(outdir=str(outdir))
    for environment in environments:
        BootstrapStack(app, BootstrapStackProps(environment=environment, state_backend=state_backend,
                                                stand_in_endpoint=stand_in_endpoint))  # fmt: skip
    app.synth()
    return [BootstrapStackFiles(e, outdir / "stacks" / serving_stack_name(e.name)) for e in environments]
