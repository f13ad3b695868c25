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
