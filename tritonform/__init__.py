"""tritonform: NVIDIA Triton Inference Server endpoints on SageMaker GPU instances, with CDK for Terraform."""

__version__ = "0.1.0"
