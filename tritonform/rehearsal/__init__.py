"""Rehearsing an environment's rollout against the local SageMaker: a candidate version (healthy, or with a
fault built into its models) under load, with the environment's own policy, alarms and fleet size."""
