"""`terraform apply` (AWS provider 5.100, offline mirror) against the local SageMaker: it creates the
endpoint and updates it with a canary deployment config, waiting on the statuses the provider waits on
(Creating/Updating/SystemUpdating until InService)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_local_sagemaker import BUCKET, IMAGE, ROLE, SCALE, Stand, shares, stand_up
from tritonform.terraform import run_terraform

REPO_ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.terraform,
    pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH"),
]

MAIN_TF = (
    """
variable "stand_in" { type = string }
variable "moto" { type = string }
variable "release" { type = string }

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  max_retries                 = 1
  endpoints {
    sagemaker = var.stand_in
    s3        = var.moto
  }
}

resource "aws_sagemaker_model" "model" {
  name               = "tf-${var.release}"
  execution_role_arn = "ROLE"
  primary_container {
    image          = "IMAGE"
    model_data_url = "s3://BUCKET/tf/model.tar.gz"
  }
}

resource "aws_sagemaker_endpoint_configuration" "config" {
  name = "tf-${var.release}"
  production_variants {
    variant_name           = "AllTraffic"
    model_name             = aws_sagemaker_model.model.name
    initial_instance_count = 4
    instance_type          = "ml.g4dn.xlarge"
  }
  lifecycle { create_before_destroy = true }
}

resource "aws_sagemaker_endpoint" "endpoint" {
  name                 = "tf-endpoint"
  endpoint_config_name = aws_sagemaker_endpoint_configuration.config.name
  deployment_config {
    blue_green_update_policy {
      maximum_execution_timeout_in_seconds = 3600
      traffic_routing_configuration {
        type                     = "CANARY"
        wait_interval_in_seconds = 300
        canary_size {
          type  = "INSTANCE_COUNT"
          value = 1
        }
      }
    }
  }
}
""".replace("ROLE", ROLE)
    .replace("IMAGE", IMAGE)
    .replace("BUCKET", BUCKET)
)


@pytest.fixture
def stand() -> Iterator[Stand]:
    with stand_up(time_scale=SCALE, provisioning_s=60, lifetime_s=300) as made:
        made.s3.put_object(Bucket=BUCKET, Key="tf/model.tar.gz", Body=b"model")
        yield made


def apply(stand: Stand, workdir: Path, release: str) -> None:
    args = ["apply", "-auto-approve", "-input=false", "-no-color", f"-var=stand_in={stand.server.url}",
            f"-var=moto={stand.moto.url}", f"-var=release={release}"]  # fmt: skip
    done = run_terraform(args, workdir, REPO_ROOT, timeout_s=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_terraform_creates_and_updates_an_endpoint_on_the_stand_in(stand: Stand, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(MAIN_TF, encoding="utf-8")
    initialised = run_terraform(["init", "-input=false", "-no-color"], tmp_path, REPO_ROOT, timeout_s=240)
    assert initialised.returncode == 0, initialised.stdout[-2000:] + initialised.stderr[-2000:]

    apply(stand, tmp_path, "v1")
    described = stand.sagemaker.describe_endpoint(EndpointName="tf-endpoint")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "tf-v1")

    apply(stand, tmp_path, "v2")  # UpdateEndpoint, then Terraform waits for InService
    described = stand.sagemaker.describe_endpoint(EndpointName="tf-endpoint")
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", "tf-v2")
    assert shares(stand.timeline("tf-endpoint")) == [0.0, 0.25, 1.0]  # the canary ran
    state = json.loads((tmp_path / "terraform.tfstate").read_text(encoding="utf-8"))
    endpoint = next(r for r in state["resources"] if r["type"] == "aws_sagemaker_endpoint")["instances"][0]
    routing = endpoint["attributes"]["deployment_config"][0]["blue_green_update_policy"][0]
    assert routing["traffic_routing_configuration"][0]["type"] == "CANARY"  # read back from LastDeploymentConfig
    # (DeleteEndpoint and the wait for "Could not find endpoint" are tested with the SDK's waiter in
    # test_local_sagemaker.py: a third Terraform run costs up to a minute on a busy machine)
