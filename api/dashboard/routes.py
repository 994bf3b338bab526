"""Server-rendered dashboard pages: sign in with an API key; cooperatives and lenders see their own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.dashboard import queries
from api.dashboard.svg import field_map, line_chart
from api.deps import Conn
from api.errors import ApiError
from store.tenants import Principal, authenticate, farm_visible, visible_farm_ids

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
COOKIE = "ft_key"


def _principal(request: Request, conn: Any) -> Principal | None:
    token = request.cookies.get(COOKIE)
    return authenticate(conn, token=token) if token else None


def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    """The sign-in form."""
    return _page(request, "login.html", error=None)


@router.post("/login", response_model=None)
def login(request: Request, conn: Conn, key: Annotated[str, Form()]) -> Response:
    """Check the key; on success keep it in an HttpOnly, same-site cookie."""
    principal = authenticate(conn, token=key.strip())
    if principal is None:
        return _page(request, "login.html", error="That API key is unknown or was revoked.")
    response = RedirectResponse("/ui", status_code=303)
    response.set_cookie(COOKIE, key.strip(), httponly=True, samesite="strict", max_age=8 * 3600)
    return response


@router.post("/logout")
def logout() -> RedirectResponse:
    """Forget the session."""
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("", response_class=HTMLResponse, response_model=None)
def home(request: Request, conn: Conn) -> Response:
    """The signed-in organization's overview: members for a cooperative, decisions and loans for a lender."""
    principal = _principal(request, conn)
    if principal is None:
        return RedirectResponse("/ui/login", status_code=303)
    if principal.kind == "lender":
        farm_ids = visible_farm_ids(conn, principal=principal)
        decisions = queries.decisions(conn, farm_ids=farm_ids)
        loans = queries.loans(conn, farm_ids=farm_ids)
        par = _par(request, conn, loans)
        return _page(
            request,
            "lender.html",
            org=principal,
            decisions=decisions,
            loans=loans,
            par=par,
            alerts=queries.alerts(conn, farm_ids=farm_ids),
        )
    members = queries.member_farms(conn, cooperative_id=principal.organization_id)
    return _page(
        request,
        "cooperative.html",
        org=principal,
        members=members,
        alerts=queries.alerts(conn, farm_ids=[m.farm_id for m in members]),
    )


def _par(request: Request, conn: Any, loans: list[dict[str, Any]]) -> Any:
    from datetime import UTC, datetime

    from credit import portfolio_par
    from store.loans import get_loan_status

    policy = request.app.state.policy
    today = datetime.now(UTC).date()
    statuses = [get_loan_status(conn, loan_id=loan["id"], as_of=today, policy=policy) for loan in loans]
    for loan, status in zip(loans, statuses, strict=True):
        loan["status"] = status
    return portfolio_par(statuses, currency=policy.currency)


@router.get("/farms/{farm_id}", response_class=HTMLResponse, response_model=None)
def farm_page(farm_id: UUID, request: Request, conn: Conn) -> Response:
    """A member farm: herd chart per species with evidence, fields on a map, crop areas, devices, alerts."""
    principal = _principal(request, conn)
    if principal is None:
        return RedirectResponse("/ui/login", status_code=303)
    if not farm_visible(conn, principal=principal, farm_id=farm_id):
        raise ApiError(404, "Not found", f"Farm {farm_id} does not exist.")
    farm = conn.execute("SELECT id, name, region, declared_herd FROM farms WHERE id = %s", (farm_id,)).fetchone()
    assert farm is not None
    return _page(
        request,
        "farm.html",
        org=principal,
        farm={"id": farm[0], "name": farm[1], "region": farm[2], "declared_herd": farm[3] or {}},
        herd_svg=line_chart(queries.herd_series(conn, farm_id=farm_id)),
        map_svg=field_map(queries.field_map_rows(conn, farm_id=farm_id)),
        crops=queries.crop_rows(conn, farm_id=farm_id),
        evidence=queries.evidence(conn, farm_id=farm_id),
        devices=queries.device_health(conn, farm_id=farm_id),
        alerts=queries.alerts(conn, farm_ids=[farm_id]),
    )


@router.get("/evidence/{frame_sha256}.jpg", response_model=None)
def evidence_image(frame_sha256: str, request: Request, conn: Conn) -> Response:
    """An evidence thumbnail of a farm the signed-in organization may see (records scope)."""
    principal = _principal(request, conn)
    if principal is None:
        raise ApiError(404, "Not found", "No such evidence.")
    farm_ids = visible_farm_ids(conn, principal=principal, scope="records")
    stored = queries.evidence_path(conn, farm_ids=farm_ids, frame_sha256=frame_sha256)
    if stored is None:
        raise ApiError(404, "Not found", "No such evidence.")
    root = request.app.state.settings.evidence_dir.resolve()
    path = (root / stored).resolve()
    if root not in path.parents or not path.is_file():
        raise ApiError(404, "Not found", "No such evidence.")
    return FileResponse(path, media_type="image/jpeg")
