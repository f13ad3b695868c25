"""Stacks: one serving stack per environment, and an access stack (the CI deploy role) where configured.
They only wire config into construct props."""

from tritonform.stacks.access import AccessStack, AccessStackProps
from tritonform.stacks.serving import ServingStack, ServingStackProps

__all__ = ["AccessStack", "AccessStackProps", "ServingStack", "ServingStackProps"]
