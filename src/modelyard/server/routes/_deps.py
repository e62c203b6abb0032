"""Dependency aliases shared by the route modules: one per permission a route demands."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from modelyard.server.auth import Ctx, requires
from modelyard.server.pagination import PageParams, page_params

Read = Annotated[Ctx, Depends(requires("read"))]
RunWrite = Annotated[Ctx, Depends(requires("run.write"))]
DatasetWrite = Annotated[Ctx, Depends(requires("dataset.write"))]
ArtifactWrite = Annotated[Ctx, Depends(requires("artifact.write"))]
ModelCreate = Annotated[Ctx, Depends(requires("model.create"))]
ModelUpdate = Annotated[Ctx, Depends(requires("model.update"))]
VersionRegister = Annotated[Ctx, Depends(requires("version.register"))]
VersionUpdate = Annotated[Ctx, Depends(requires("version.update"))]
VersionValidate = Annotated[Ctx, Depends(requires("version.validate"))]
VersionArchive = Annotated[Ctx, Depends(requires("version.archive"))]
AliasSet = Annotated[Ctx, Depends(requires("alias.set", "alias.set_protected"))]
SignOff = Annotated[Ctx, Depends(requires("approval.validator", "approval.approver"))]
UserManage = Annotated[Ctx, Depends(requires("user.manage"))]
PolicyManage = Annotated[Ctx, Depends(requires("policy.manage"))]
DeploymentManage = Annotated[Ctx, Depends(requires("deployment.manage"))]
Pages = Annotated[PageParams, Depends(page_params)]

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
ModelName = Annotated[str, Path(pattern=NAME, description="A model name.")]
DatasetName = Annotated[str, Path(pattern=NAME, description="A dataset name.")]
VersionNumber = Annotated[int, Path(ge=1, le=2_147_483_647, description="A version number.")]
