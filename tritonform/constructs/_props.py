"""The base of construct props: frozen and closed like the config models, but they may carry tokens.

A token is cdktf's placeholder for a value known only at apply time (a role ARN, a key ARN). In Python it
is a plain string, so props can hold it as `str`; they must never hash or parse one.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Props(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, use_attribute_docstrings=True)


AwsPartition = Annotated[str, Field(pattern=r"^aws(?:-cn|-us-gov)?$")]
Tags = dict[str, str]


class RoleProps(Props):
    """What every IAM role tritonform declares needs: its name and the account and region it serves."""

    role_name: Annotated[str, Field(pattern=r"^[\w+=,.@-]{1,64}$")]
    """IAM role name."""

    account_id: Annotated[str, Field(pattern=r"^[0-9]{12}$")]
    region: Annotated[str, Field(min_length=1)]
    partition: AwsPartition = "aws"
    """AWS partition. Default aws."""
