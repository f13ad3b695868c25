"""An IAM role with one inline policy, both from policy documents: how every tritonform role is made."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from tritonform.config.names import arn
from tritonform.constructs._aws import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    IamRole,
    IamRolePolicy,
)
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


class PolicyRole(Construct):
    """A role construct: its trust policy, its permissions as one policy document of statements, the role and
    its inline policy. Subclasses set `props` and `trust_policy`, then call `_create_role`."""

    props: RoleProps
    trust_policy: DataAwsIamPolicyDocument

    def _create_role(
        self, statements: Sequence[DataAwsIamPolicyDocumentStatement], *, policy_name: str, description: str
    ) -> None:
        self.permissions = DataAwsIamPolicyDocument(self, "permissions", statement=list(statements))
        self.role, self.policy = role_with_policy(
            self,
            self.props,
            trust=self.trust_policy,
            permissions=self.permissions,
            policy_name=policy_name,
            description=description,
        )
        self.role_arn: str = self.role.arn

    def _here(self, service: str, resource: str) -> str:
        """The ARN of a resource in the role's account and region."""
        return arn(self.props.partition, service, resource, region=self.props.region, account=self.props.account_id)
