"""The inference contract's change for the plan review: the base branch's release against the head's.

No AWS is called: each side's contract is read from the repository state its release pins, reproduced as
`check` does it (tritonform/config/pinned.py: the checkout's model_repository/ or the release's clean
source commit, when it packages to the release's bytes), and checked against the digest the release file
records. Where a side cannot be reproduced the change is "not known", and the review says why; it never
claims a contract it did not read.
"""

from __future__ import annotations

from pathlib import Path

from tritonform.config.release import ReleaseConfig
from tritonform.release.pinned_contract import pinned_contract
from tritonform.review.model import ContractReview
from tritonform.triton.contract_diff import diff_contracts


def contract_review(
    head_root: Path, head: ReleaseConfig, base_root: Path | None, base: ReleaseConfig | None
) -> ContractReview | None:
    """None when there is nothing to say: no base given (or a new environment) and no contract recorded."""
    digest = head.artifact.contract_sha256
    recorded = f"sha256 {digest[:12]}" if digest else "its contract is not recorded"
    if base_root is None or base is None:
        before = "base not given" if base_root is None else "new environment"
        return ContractReview("not known", f"{recorded} ({before}: nothing to compare with)") if digest else None
    if base.artifact.sha256 == head.artifact.sha256:
        return ContractReview("unchanged", f"unchanged (same version; {recorded})")
    if digest is not None and digest == base.artifact.contract_sha256:
        return ContractReview("unchanged", f"unchanged (sha256 {digest[:12]} recorded by both releases)")
    old, new = pinned_contract(base_root, base), pinned_contract(head_root, head)
    if isinstance(old, str) or isinstance(new, str):
        why = "; ".join(side for side in (old, new) if isinstance(side, str))
        return ContractReview("not known", f"not compared: {why} (`tritonform contract diff` compares them)")
    diff = diff_contracts(old, new)
    return ContractReview(diff.verdict, diff.summary(), tuple(change.line() for change in diff.changes))
