"""Organizations and API keys (admins), and who am I (everyone)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status

from api.deps import Conn, CurrentOrg, require
from api.errors import ApiError
from api.schemas import ApiKeyPublic, OrganizationCreate, OrganizationPublic
from store.tenants import create_api_key, create_organization, organization_exists, revoke_api_key

router = APIRouter(prefix="/v1", tags=["admin"])


@router.get("/me", operation_id="whoami")
def whoami(principal: CurrentOrg) -> OrganizationPublic:
    """The organization of the calling key."""
    return OrganizationPublic(id=principal.organization_id, kind=principal.kind, name=principal.name)


@router.post("/organizations", status_code=status.HTTP_201_CREATED, operation_id="create_organization")
def create_org(body: OrganizationCreate, principal: CurrentOrg, conn: Conn) -> OrganizationPublic:
    """Create an organization (admin)."""
    require(principal, "admin")
    org_id = create_organization(conn, kind=body.kind, name=body.name)
    return OrganizationPublic(id=org_id, kind=body.kind, name=body.name)


@router.post(
    "/organizations/{organization_id}/keys", status_code=status.HTTP_201_CREATED, operation_id="create_api_key"
)
def create_key(organization_id: UUID, principal: CurrentOrg, conn: Conn) -> ApiKeyPublic:
    """Create an API key for an organization (admin); the key is shown once."""
    require(principal, "admin")
    if not organization_exists(conn, organization_id=organization_id):
        raise ApiError(404, "Not found", f"Organization {organization_id} does not exist.")
    key_id, token = create_api_key(conn, organization_id=organization_id)
    return ApiKeyPublic(id=key_id, organization_id=organization_id, key=token)


@router.delete("/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT, operation_id="revoke_api_key")
def revoke_key(key_id: UUID, principal: CurrentOrg, conn: Conn) -> None:
    """Revoke a key at once: an admin any key, others only their own organization's."""
    revoke_api_key(
        conn, key_id=key_id, organization_id=None if principal.kind == "admin" else principal.organization_id
    )
