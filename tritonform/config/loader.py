"""Reading the project's YAML into frozen models, with errors that name the file, the line and the field.

Every problem in every file is collected before anything fails, so one run shows the user all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from tritonform.config.alarms import alarm_timings
from tritonform.config.environment import ENVIRONMENT_NAME_PATTERN, EnvironmentConfig
from tritonform.config.names import rollback_alarm_names
from tritonform.config.pinned import PinnedRepository, pinned_repository
from tritonform.config.release import ReleaseConfig
from tritonform.config.rollout import (
    POLICY_KINDS,
    CompiledDeployment,
    RolloutPlan,
    RolloutPolicy,
    compile_deployment,
    plan_rollout,
)
from tritonform.config.rules import apply_rules
from tritonform.config.triton_images import image_for, published_regions
from tritonform.documents import (
    FieldError,
    Loc,
    describe,
    dotted,
    field_loc,
    line_for,
    read_yaml,
    validate_data,
)
from tritonform.errors import Problem, UserError
from tritonform.triton.validate import validate_repository

_TIER_ORDER = {"dev": 0, "staging": 1, "prod": 2}  # the order a version travels in


def _file_safe(name: str) -> str:
    """An environment name becomes part of file names: refuse anything but a name the schema allows."""
    if not re.fullmatch(ENVIRONMENT_NAME_PATTERN, name):
        raise UserError.single(
            f"{name!r} is not an environment name: lower-case letters, digits and hyphens, starting with a "
            "letter, at most 20 characters"
        )
    return name


@dataclass(frozen=True)
class ProjectLayout:
    """Where a tritonform project keeps its inputs (the layout README.md describes)."""

    root: Path

    @property
    def environments_dir(self) -> Path:
        return self.root / "environments"

    @property
    def releases_dir(self) -> Path:
        return self.environments_dir / "releases"

    @property
    def rollout_policies_dir(self) -> Path:
        return self.root / "rollout_policies"

    @property
    def model_repository(self) -> Path:
        return self.root / "model_repository"

    def environment_file(self, name: str) -> Path:
        return self.environments_dir / f"{_file_safe(name)}.yaml"

    def release_file(self, name: str) -> Path:
        return self.releases_dir / f"{_file_safe(name)}.yaml"

    def history_file(self, name: str) -> Path:
        return self.environments_dir / "history" / f"{_file_safe(name)}.jsonl"

    def is_new(self, name: str) -> bool:
        """Never released: no release file and no history of one. Only such an environment gets a bootstrap
        stack (its first deploy: README); one whose release file went missing after releases may be serving."""
        return not self.release_file(name).exists() and not self.history_file(name).exists()

    def lock_file(self, name: str) -> Path:
        """Where a command that changes `name` holds its lock: only for an environment that exists."""
        return self.root / ".tritonform" / "locks" / f"{self.require_environment(name)}.lock"

    def require_environment(self, name: str) -> str:
        """`name`, once it is known to be one of the project's environments: checked before anything is
        read or written for it, so a mistyped or hostile name (`../../x`) touches nothing."""
        available = self.environment_names()
        if _file_safe(name) not in available:
            raise UserError.single(
                f"unknown environment {name!r}; environments: {', '.join(available) or 'none'}",
                file=self.environments_dir,
            )
        return name

    def environment_names(self) -> list[str]:
        if not self.environments_dir.is_dir():
            raise UserError.single(
                "no environments/ directory: is this a tritonform project? (see README.md)",
                file=self.environments_dir,
            )
        return sorted(p.stem for p in self.environments_dir.glob("*.yaml") if p.is_file())


@dataclass(frozen=True)
class Deployment:
    """One environment, the release it pins and how that release reaches traffic, checked together."""

    environment: EnvironmentConfig
    release: ReleaseConfig
    environment_file: Path
    release_file: Path
    rollout: RolloutPlan
    deployment_config: CompiledDeployment
    repository: PinnedRepository
    """Which state of the model repository the release pins, and whether the working tree is it."""

    warnings: tuple[Problem, ...] = ()


# --- the project -------------------------------------------------------------------------------------


def _refusal(path: Path, field: str, lines: dict[Loc, int], message: str) -> UserError:
    """One problem at a top-level field of a file, on the line the field is written (if it is)."""
    return UserError([Problem(file=path, field=field, line=lines.get((field,)), message=message)])


def _read_environment(layout: ProjectLayout, name: str) -> tuple[EnvironmentConfig, dict[Loc, int]]:
    path = layout.environment_file(layout.require_environment(name))
    data, lines = read_yaml(path)
    environment = validate_data(EnvironmentConfig, data, path, lines)
    if environment.name != name:
        raise _refusal(path, "name", lines, f"is {environment.name!r} but the file is {name}.yaml; they must match")
    return environment, lines


def load_environment(layout: ProjectLayout, name: str) -> EnvironmentConfig:
    return _read_environment(layout, name)[0]


def load_release(layout: ProjectLayout, environment: EnvironmentConfig) -> tuple[ReleaseConfig, PinnedRepository]:
    path = layout.release_file(environment.name)
    if not path.is_file():
        raise UserError.single(
            f"environment {environment.name!r} has no release file: attach a model version first "
            f"(tritonform release attach --env {environment.name} VERSION); a new environment's first deploy "
            f"creates its artifact bucket for that with tritonform synth --env {environment.name} --bootstrap "
            "(README: the first deploy)",
            file=path,
        )
    data, lines = read_yaml(path)
    release = validate_data(ReleaseConfig, data, path, lines)
    with pinned_repository(layout.root, layout.model_repository, release) as (pinned, repository):
        problems = _cross_check(layout, environment, release, path, lines)
        if repository is not None and pinned.validated_as is not None:
            problems += _check_repository(
                environment, release, path, lines, repository=repository, shown_as=pinned.validated_as
            )
    if problems:
        raise UserError(problems)
    return release, pinned


def _cross_check(
    layout: ProjectLayout,
    environment: EnvironmentConfig,
    release: ReleaseConfig,
    path: Path,
    lines: dict[Loc, int],
) -> list[Problem]:
    """What neither file can check alone: the release must fit the environment it is attached to."""
    problems: list[Problem] = []
    env_file = layout.environment_file(environment.name)

    def problem(field: str, message: str, file: Path = path, loc: Loc | None = None) -> None:
        line = line_for(loc or tuple(field.split(".")), lines) if file == path else None
        problems.append(Problem(file=file, field=field, message=message, line=line))

    image_version = release.triton_image.version
    regions = published_regions(image_version)
    if not regions:
        problem("triton_image.version", f"AWS publishes no SageMaker Triton image {image_version}")
    elif environment.region not in regions:
        problem(
            "region",
            f"the SageMaker Triton image {image_version} is not published in {environment.region} "
            f"(it is in: {', '.join(sorted(regions))})",
            file=env_file,
        )
    else:
        expected = image_for(environment.region, image_version)
        if expected is not None and release.triton_image.uri != expected.uri:
            problem("triton_image.uri", f"for {environment.region} the image is {expected.uri}")

    if release.artifact.bucket != environment.artifacts.bucket:
        problem(
            "artifact.s3_uri",
            f"the artifact is in bucket {release.artifact.bucket!r}, but this environment's artifact bucket "
            f"is {environment.artifacts.bucket!r} (artifacts.bucket in {env_file.name})",
        )
    return problems


def _check_repository(
    environment: EnvironmentConfig,
    release: ReleaseConfig,
    path: Path,
    lines: dict[Loc, int],
    *,
    repository: Path,
    shown_as: str,
) -> list[Problem]:
    """The repository this release serves (`repository`, named `shown_as` in problems) must be one Triton
    would load on this environment's instances: never synthesize a stack for it."""
    line = line_for(("model_name",), lines)
    if not (repository / release.model_name / "config.pbtxt").is_file():
        message = f"{shown_as}{release.model_name}/config.pbtxt does not exist"
        return [Problem(file=path, field="model_name", message=message, line=line)]
    report = validate_repository(
        repository, default_model=release.model_name, gpus_per_instance=environment.endpoint.instance.gpus
    )
    if not report.problems:
        return []
    headline = (
        f"{shown_as} is not loadable by Triton ({len(report.problems)} problem(s) below; details: tritonform repo "
        "validate)"
    )
    return [Problem(file=path, field="model_name", message=headline, line=line),
            *(_shown_as(problem, repository, shown_as) for problem in report.problems)]  # fmt: skip


def _shown_as(problem: Problem, repository: Path, shown_as: str) -> Problem:
    """A problem in a tree taken from git names the file as git does (<commit>:<path>), not a scratch path."""
    if shown_as == "model_repository/" or problem.file is None or not problem.file.is_relative_to(repository):
        return problem
    return replace(problem, file=Path(shown_as) / problem.file.relative_to(repository))


def load_policy(path: Path) -> RolloutPolicy:
    """One rollout policy file; its `kind` picks the model that checks the rest."""
    data, lines = read_yaml(path)
    if not isinstance(data, dict):
        raise UserError.single("must be a mapping with a `kind` key", file=path)
    kind = data.get("kind")
    model = POLICY_KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise _refusal(path, "kind", lines, f"must be one of {', '.join(POLICY_KINDS)}, got {describe(kind)}")
    return validate_data(model, data, path, lines)


def plan_for(
    layout: ProjectLayout, environment: EnvironmentConfig, lines: dict[Loc, int]
) -> tuple[RolloutPlan, list[Problem]]:
    """The environment's rollout, with every rule applied; problems raise, warnings are returned.
    `lines` locates the environment file's fields (from reading it)."""
    env_file = layout.environment_file(environment.name)
    path = layout.rollout_policies_dir / f"{environment.rollout_policy}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in layout.rollout_policies_dir.glob("*.yaml"))
        raise _refusal(
            env_file,
            "rollout_policy",
            lines,
            f"no policy file {path.name} in rollout_policies/; known: {', '.join(known) or 'none'}",
        )
    policy = load_policy(path)
    plan = plan_rollout(
        environment.rollout_policy,
        policy,
        fleet=environment.capacity.initial_instances,
        gpus_per_instance=environment.endpoint.instance.gpus,
        provisioning_s=environment.endpoint.model_data_download_timeout_s
        + environment.endpoint.container_startup_health_check_timeout_s,
        alarms=alarm_timings(environment),
        strict=environment.tier == "prod",
    )
    problems, warnings = apply_rules(environment, plan)

    def located(error: FieldError) -> Problem:
        loc = field_loc(error.field)
        return Problem(file=env_file, field=dotted(loc), message=error.message, line=line_for(loc, lines))

    if problems:
        raise UserError([located(p) for p in problems])
    return plan, [located(w) for w in warnings]


def load_deployment(layout: ProjectLayout, name: str) -> Deployment:
    environment, lines = _read_environment(layout, name)
    plan, warnings = plan_for(layout, environment, lines)
    release, pinned = load_release(layout, environment)
    return Deployment(
        environment,
        release,
        layout.environment_file(name),
        layout.release_file(name),
        plan,
        compile_deployment(plan, rollback_alarm_names(environment)),
        pinned,
        tuple(warnings),
    )


def load_deployments(layout: ProjectLayout, names: list[str] | None = None) -> list[Deployment]:
    """Load every named environment (default: all), reporting the problems of all of them together, each
    once."""
    available = layout.environment_names()
    wanted = names or available
    unknown = [n for n in wanted if n not in available]
    if unknown:
        raise UserError.single(
            f"unknown environment {', '.join(unknown)}; environments: {', '.join(available) or 'none'}",
            file=layout.environments_dir,
        )
    if not wanted:
        raise UserError.single("no environment files (*.yaml)", file=layout.environments_dir)
    deployments: list[Deployment] = []
    problems: list[Problem] = []
    for name in wanted:
        try:
            deployments.append(load_deployment(layout, name))
        except UserError as err:  # a file two environments share (a policy, the repository) is reported once
            problems.extend(problem for problem in err.problems if problem not in problems)
    if problems:
        raise UserError(problems)
    check_unique(layout, [d.environment for d in deployments])
    return sorted(deployments, key=lambda d: (_TIER_ORDER[d.environment.tier], d.environment.name))


def check_unique(layout: ProjectLayout, environments: list[EnvironmentConfig]) -> None:
    """Two environments sharing an endpoint or a bucket would overwrite each other. The selected ones are
    compared with every environment file, selected or not (`--env dev` still sees staging's endpoint); an
    environment that is not selected is read for this only, so its own problems (an invalid file, a missing
    release) are its own command's to report."""
    selected = {environment.name: environment for environment in environments}
    everyone = [selected.get(name) or _environment_or_none(layout, name) for name in layout.environment_names()]
    problems: list[Problem] = []
    for label, key in (
        ("endpoint.name", lambda e: (e.account_id, e.region, e.endpoint.name)),
        ("artifacts.bucket", lambda e: e.artifacts.bucket),
    ):
        seen: dict[object, str] = {}
        for environment in (e for e in everyone if e is not None):
            value = key(environment)
            if value in seen and (environment.name in selected or seen[value] in selected):
                # said in the selected environment's file, the one the command is about
                here, other = (environment.name, seen[value])
                if here not in selected:
                    here, other = other, here
                problems.append(
                    Problem(
                        file=layout.environment_file(here),
                        field=label,
                        message=f"the same as in environment {other!r}; each environment needs its own",
                    )
                )
            seen.setdefault(value, environment.name)
    if problems:
        raise UserError(problems)


def _environment_or_none(layout: ProjectLayout, name: str) -> EnvironmentConfig | None:
    try:
        return load_environment(layout, name)
    except UserError:
        return None
