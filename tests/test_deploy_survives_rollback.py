"""Deploys that survive their own rollback, on the stand-ins with the real Terraform (issue 13): one scenario
on dev's serving stack, against a moto server and the local SageMaker running each version in a real Triton
server (time x60, one-instance fleet to start with).

  A   `tritonform deploy`: created, verified with the smoke requests, recorded `deployed` (no fallback yet);
      then autoscaling's call (UpdateEndpointWeightsAndCapacities) raises the variant to 3 instances;
  B   faulty (every request fails), under steady traffic: `tritonform deploy` applies it with the live count
      (3 instances in the new fleet), the error-rate alarm rolls it back, exit 1, recorded `rolled-back`; A's
      configuration, the declared fallback, still exists; then the same release through `cdktf deploy` (the
      real cdktf CLI, main.py pointed at the stand-ins) runs cleanly up to SageMaker's rollback (no missing
      configuration), `release watch` records it, and the next plan destroys nothing of A;
  C   healthy, on another instance type of the autoscaled variant, `tritonform deploy`ed and verified; then
      `release rollback --emergency` switches back to A at once (all at once, no bake, the 3 instances kept),
      waits, records how long it took.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, CliRun, copy_project, edit_yaml
from tritonform import terraform
from tritonform.config import ProjectLayout, load_deployments
from tritonform.config.names import FALLBACK_OUTPUT, configuration_name
from tritonform.localsagemaker import LocalSageMakerServer, local_sagemaker
from tritonform.rehearsal.faults import Fault, build_candidate
from tritonform.rehearsal.load import LoadGenerator, smoke_requests
from tritonform.release.attach import attach, current_release
from tritonform.release.deploy import StandIns, deploy
from tritonform.release.history import (
    DeployRecorded,
    EmergencySwitch,
    ReleaseChange,
    RollbackDetected,
    history_file,
    read_history,
)
from tritonform.release.live import watch
from tritonform.release.package import package
from tritonform.release.promote import rollback
from tritonform.release.publish import publish
from tritonform.standin import MotoServer, aws_pointed_at, moto_server
from tritonform.synth import synthesize
from tritonform.triton import install

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.terraform,
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH"),
    pytest.mark.skipif(not install.installed(), reason="the local tritonserver is not installed (scripts/bootstrap)"),
]

SCALE = 60.0
MODEL = "text_embedder"
ENDPOINT = "text-embedder-dev"
OTHER_INSTANCE_TYPE = "ml.g4dn.2xlarge"  # C's: moto accepts only older GPU types
VARIANT = "AllTraffic"
BAKE_S = 900  # 15 s here: time for the error-rate alarm (1-minute periods, 1 s here) to see B's errors


@dataclass
class Scenario:
    root: Path
    layout: ProjectLayout
    moto: MotoServer
    sagemaker_server: LocalSageMakerServer
    stack: Path

    @property
    def stand_ins(self) -> StandIns:
        return StandIns(self.moto.url, self.sagemaker_server.url)

    def sagemaker(self) -> Any:
        return self.stand_ins.client("sagemaker", "us-east-1")

    def configuration(self) -> str:
        release = current_release(self.layout, "dev")
        assert release is not None
        return configuration_name(load_deployments(self.layout, ["dev"])[0].environment, release)

    def timeline(self) -> list[dict[str, Any]]:
        url = f"{self.sagemaker_server.url}/_localsagemaker/timeline/{ENDPOINT}"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return list(json.load(answer)["Timeline"])

    def terraform(self, *args: str) -> tuple[int, str]:
        done = terraform.run_terraform([*args, "-input=false", "-no-color"], self.stack, self.root, timeout_s=600)
        return done.returncode, done.stdout + done.stderr


def quiet(_line: str) -> None:
    pass


def for_the_scenario(data: dict[str, Any]) -> None:
    """dev as shipped but on an instance type moto knows, room for 3 instances, a bake long enough for the
    alarm to see B's errors at this time scale, and its error-rate alarm judging from the test's traffic (20
    requests a second are 20 a model minute here)."""
    data["endpoint"]["instance_type"] = "ml.g4dn.xlarge"
    data["capacity"]["max_instances"] = 3
    data["rollback_alarms"]["server_error_rate"].update(threshold_percent=50, min_invocations=10)


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    root = copy_project(tmp_path / "project")
    edit_yaml(root / "environments" / "dev.yaml", for_the_scenario)
    edit_yaml(root / "rollout_policies" / "all-at-once.yaml", lambda data: data.update(bake_s=BAKE_S))
    layout = ProjectLayout(root)
    with moto_server() as moto, aws_pointed_at(moto), local_sagemaker(
        moto, time_scale=SCALE, lifetime_s=900, run_models=True, log_path=tmp_path / "localsagemaker.log"
    ) as server:  # fmt: skip
        (stack,) = synthesize(layout, root / "cdktf.out", ["dev"], "local", moto.url, sagemaker_endpoint=server.url)
        made = Scenario(root, layout, moto, server, stack.directory)
        assert made.terraform("init")[0] == 0
        bucket = [f"-target=aws_s3_bucket.{name}" for name in stack.document()["resource"]["aws_s3_bucket"]]  # type: ignore[index]
        code, output = made.terraform("apply", "-auto-approve", *bucket)
        assert code == 0, output[-3000:]
        yield made


def publish_version(scenario: Scenario, label: str, fault: Fault | None) -> str:
    repository = scenario.root / "model_repository"
    if label != "A":
        repository = build_candidate(repository, scenario.root / "candidates" / label, default_model=MODEL,
                                     fault=fault, nonce=f"issue 13 version {label}")  # fmt: skip
    manifest = package(repository, scenario.root / "packages" / label, default_model=MODEL)
    publish(scenario.root / "packages" / label, bucket="acme-tritonform-dev-artifacts", region="us-east-1", quiet=True)
    return manifest.sha256


def test_a_faulty_release_leaves_the_previous_one_live_declared_and_at_its_capacity(
    scenario: Scenario, run_cli: Callable[..., CliRun]
) -> None:
    shas = {label: publish_version(scenario, label, fault) for label, fault in
            (("A", None), ("B", Fault("error-rate", 1.0)), ("C", None))}  # fmt: skip
    config_a = deploy_a_then_scale_to_3(scenario, shas["A"])
    release_faulty_b(scenario, shas["B"], config_a, run_cli)
    next_plan_keeps_a(scenario)
    records = read_history(history_file(scenario.layout, "dev"))
    assert [r.outcome for r in records if isinstance(r, DeployRecorded)] == ["deployed", "rolled-back"]
    assert isinstance(records[-1], RollbackDetected) and records[-1].to.live_configuration == config_a
    switch_back_at_once_after_c(scenario, shas, config_a)


def deploy_a_then_scale_to_3(scenario: Scenario, sha: str) -> str:
    """A: the first deploy, verified; nothing else was live, so nothing is kept as a fallback. Then what
    Application Auto Scaling does at peak load. Returns A's configuration."""
    attach(scenario.layout, "dev", sha, actor="ci", reason="A")
    config_a = scenario.configuration()
    first = deploy(scenario.layout, "dev", actor="ci", stand_ins=scenario.stand_ins, poll_s=0.2, progress=quiet)
    assert first.outcome == "deployed", first.detail
    assert first.fallback_configuration is None and first.requested_instances == 1
    assert first.smoke and all(answer.ok for answer in first.smoke)
    assert first.live_configuration == config_a and first.instances == 1
    sagemaker = scenario.sagemaker()
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT, DesiredWeightsAndCapacities=[{"VariantName": VARIANT, "DesiredInstanceCount": 3}]
    )
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT, WaiterConfig={"Delay": 1})
    return config_a


def deploy_command(scenario: Scenario, run_cli: Callable[..., CliRun]) -> tuple[int, dict[str, Any]]:
    """`tritonform deploy --env dev --json` at the stand-ins: its exit code and its report."""
    ran = run_cli("--root", str(scenario.root), "deploy", "--env", "dev", "--json", "--poll", "0.2",
                  "--stand-in", scenario.moto.url, "--sagemaker", scenario.sagemaker_server.url)  # fmt: skip
    report: dict[str, Any] = json.loads(ran.out)
    return ran.code, report


def release_faulty_b(scenario: Scenario, sha: str, config_a: str, run_cli: Callable[..., CliRun]) -> None:
    """B, faulty, under traffic: through tritonform deploy (the live count of 3 in the new fleet), rolled back
    by the alarm, A's configuration still there; then through `cdktf deploy` (the cdktf CLI's terraform apply),
    which is rolled back again, as release watch sees and records."""
    layout, sagemaker = scenario.layout, scenario.sagemaker()
    attach(layout, "dev", sha, actor="ci", reason="B")
    config_b = scenario.configuration()
    requests = smoke_requests(scenario.root / "model_repository", MODEL)
    load = LoadGenerator(scenario.sagemaker_server.url, ENDPOINT, requests, rate=20, max_requests=20_000,
                         max_seconds=300)  # fmt: skip
    load.start()
    try:
        code, faulty = deploy_command(scenario, run_cli)  # the command, as CI runs it
        assert (code, faulty["outcome"]) == (1, "rolled-back"), faulty["detail"]
        assert faulty["fallback_configuration"] == config_a and faulty["requested_instances"] == 3
        assert faulty["live_configuration"] == config_a and faulty["instances"] == 3
        update = scenario.timeline()
        assert config_b in {step["config"] for step in update} and "RollingBack" in {s["status"] for s in update}
        assert max(step["new_instances"].get(VARIANT, 0) for step in update) == 3  # the new fleet kept the capacity
        reason = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["FailureReason"]
        assert "went into ALARM" in reason, reason  # an auto-rollback alarm, not a fleet that failed to start
        sagemaker.describe_endpoint_config(EndpointConfigName=config_a)  # the configuration live again exists

        before = scenario.timeline()
        code, output = cdktf_deploy(scenario)
        assert code == 0 or "waiting for SageMaker AI Endpoint" in output, output[-3000:]
        again = scenario.timeline()  # the CLI's apply updated the endpoint to B once more
        assert again != before and config_b in {step["config"] for step in again}, output[-3000:]
        assert "Could not find endpoint configuration" not in output
        watched = watch(layout, "dev", sagemaker=sagemaker, poll_s=0.2, timeout_s=120, progress=quiet)
        assert watched.outcome == "rolled-back"
    finally:
        load.stop()
    sagemaker.describe_endpoint_config(EndpointConfigName=config_a)


def cdktf_deploy(scenario: Scenario) -> tuple[int, str]:
    """`scripts/cdktf deploy tritonform-dev`, as a user runs it: the real cdktf CLI synthesizes through
    main.py (pointed at the stand-ins by TRITONFORM_STAND_IN and TRITONFORM_SAGEMAKER) into the same stack
    directory and state, then runs terraform apply, with the variables' defaults (live_instances: initial)."""
    for name in ("cdktf.json", "main.py", ".venv", "scripts", "tools"):  # the project's own, beside the copy
        if not (scenario.root / name).exists():
            (scenario.root / name).symlink_to(REPO_ROOT / name)
    variables = {
        "CI": "true",
        "TRITONFORM_ENVIRONMENTS": "dev",
        "TRITONFORM_STATE_BACKEND": "local",
        "TRITONFORM_STAND_IN": scenario.moto.url,
        "TRITONFORM_SAGEMAKER": scenario.sagemaker_server.url,
    }
    done = subprocess.run([str(scenario.root / "scripts" / "cdktf"), "deploy", "tritonform-dev", "--auto-approve"],
                          cwd=scenario.root, capture_output=True, text=True, timeout=600, check=False,
                          stdin=subprocess.DEVNULL, env={**os.environ, **variables})  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def next_plan_keeps_a(scenario: Scenario) -> None:
    """The next plan destroys no model and no configuration (it updates the endpoint to B again)."""
    code, output = scenario.terraform("plan", "-out=next.plan")
    assert code == 0, output[-3000:]
    shown = terraform.run_terraform(["show", "-json", "next.plan"], scenario.stack, scenario.root)
    assert shown.returncode == 0, shown.stderr[-2000:]
    changes = json.loads(shown.stdout)["resource_changes"]
    destroyed = [c["address"] for c in changes if "delete" in c["change"]["actions"]]
    assert not [address for address in destroyed if "sagemaker" in address], destroyed


def switch_back_at_once_after_c(scenario: Scenario, shas: dict[str, str], config_a: str) -> None:
    """C, healthy, on another instance type while the variant is registered for autoscaling (SageMaker refuses
    that update unless the deploy deregisters it first: release/scaling.py), verified; then an emergency switch
    back to A: at once, no bake, the instances kept."""
    layout, sagemaker = scenario.layout, scenario.sagemaker()
    edit_yaml(scenario.root / "environments" / "dev.yaml",
              lambda data: data["endpoint"].update(instance_type=OTHER_INSTANCE_TYPE))  # fmt: skip
    attach(layout, "dev", shas["C"], actor="ci", reason="C")
    said: list[str] = []
    healthy = deploy(layout, "dev", actor="ci", stand_ins=scenario.stand_ins, poll_s=0.2, progress=said.append)
    assert healthy.outcome == "deployed", healthy.detail
    # A stays the fallback, declared on the new instance type: another settings digest, so another name
    assert healthy.fallback_configuration is not None and healthy.fallback_configuration != config_a
    assert healthy.fallback_configuration.startswith(f"{ENDPOINT}-{shas['A'][:12]}-") and healthy.instances == 3
    config_a = healthy.fallback_configuration
    assert any("deregistering its scalable target" in line for line in said), said
    scaling = scenario.stand_ins.client("application-autoscaling", "us-east-1")
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [t["ResourceId"] for t in targets] == [f"endpoint/{ENDPOINT}/variant/AllTraffic"]  # registered again
    synthesized = json.loads((scenario.stack / "cdk.tf.json").read_text())
    assert synthesized["output"][FALLBACK_OUTPUT]["value"] == config_a

    result, switched = rollback(layout, "dev", actor="oncall", emergency=True, reason="C misbehaves",
                                sagemaker=sagemaker, poll_s=0.1, timeout_s=120)  # fmt: skip
    assert switched is not None and switched.configuration == config_a and switched.instances == 3
    assert result.release.artifact.sha256 == shas["A"]
    steps = scenario.timeline()
    assert [s["new_share"] for s in steps if s["status"] == "Updating"][1:] == [1.0, 1.0]  # one shift, then done
    baking = [s for s in steps if "baking" in s["action"]]
    assert len(baking) == 1 and steps[steps.index(baking[0]) + 1]["at_s"] - baking[0]["at_s"] < 30  # no 900 s bake
    assert switched.duration_s * SCALE < BAKE_S  # the whole switch, in model time, is shorter than one bake
    described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    assert described["EndpointConfigName"] == config_a
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 3
    assert "AutoRollbackConfiguration" not in described["LastDeploymentConfig"]
    switch, reattached = read_history(history_file(layout, "dev"))[-2:]
    assert isinstance(switch, EmergencySwitch) and switch.duration_s == pytest.approx(switched.duration_s, abs=0.01)
    assert isinstance(reattached, ReleaseChange) and reattached.action == "emergency-rollback"
