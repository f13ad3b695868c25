"""An IAM role with one inline policy, both from policy documents: how every tritonform role is made."""

from __future__ import annotations

from constructs import Construct

from tritonform.constructs._aws import DataAwsIamPolicyDocument, IamRole, IamRolePolicy
from tritonform.constructs._props import RoleProps

MAX_SESSION_S = 3600  # one hour: long enough for a deploy, short enough that a leaked session expires soon


def role_with_policy(
    scope: Construct,
    props: RoleProps,
    *,
    trust: DataAwsIamPolicyDocument,
    permissions: DataAwsIamPolicyDocument,
    policy_name: str,
    description: str,
) -> tuple[IamRole, IamRolePolicy]:
    role = IamRole(
        scope,
        "role",
        name=props.role_name,
        assume_role_policy=trust.json,
        description=description,
        max_session_duration=MAX_SESSION_S,
    )
    policy = IamRolePolicy(scope, "policy", name=policy_name, role=role.id, policy=permissions.json)
    return role, policy
