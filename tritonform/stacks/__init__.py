"""Stacks: one serving stack per environment. They only wire config into construct props."""

from tritonform.stacks.serving import ServingStack, ServingStackProps

__all__ = ["ServingStack", "ServingStackProps"]
