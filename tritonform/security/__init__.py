"""The security gate: scans of synthesized stacks and plans against a justified baseline."""
