"""Server-rendered dashboard pages: sign in with an API key; cooperatives and lenders see their own."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.dashboard.session import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_login_csrf,
    check_session_csrf,
    client_address,
    delete_cookie,
    lifetime,
    login_csrf_token,
    session_csrf_token,
    session_principal,
    set_cookie,
)
from api.dashboard.svg import MapField, Series, field_map, line_chart
from api.deps import Conn
from api.errors import ApiError
from api.routes.audit import proven_receipt
from credit.count_intervals import INTERVAL_PERCENT, interval_text
from credit.errors import AuditError
from store.credit_records import latest_decisions
from store.crop_areas import FieldCropAreaRow
from store.herd import HerdDayRow
from store.loans import lender_loans, list_alerts, load_instalments
from store.sessions import end_session, login_throttle, record_login_failure, start_session
from store.tenants import Principal, authenticate, farm_visible, visible_farm_ids
from usecases import farm_records
from usecases.cooperatives import COVERAGE_DAYS, member_overview
from usecases.farms import load_farm
from usecases.loans import portfolio

router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals["interval_percent"] = INTERVAL_PERCENT  # "42 head (90 % interval 39-46)"
templates.env.filters["interval"] = interval_text  # low|interval(high): "39-46", or "39 or more" unbounded above
STYLESHEET = Path(__file__).parent / "static" / "dashboard.css"


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("csrf", session_csrf_token(request))
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _login_page(request: Request, *, error: str | None, status_code: int = 200) -> HTMLResponse:
    token, new = login_csrf_token(request)
    response = _page(request, "login.html", status_code, error=error, csrf=token)
    if new:
        set_cookie(request, response, LOGIN_CSRF_COOKIE, token, max_age_s=None)
    return response


@router.get("/static/dashboard.css")
def stylesheet() -> FileResponse:
    """The dashboard's stylesheet (a file, so the Content-Security-Policy needs no inline styles)."""
    return FileResponse(STYLESHEET, media_type="text/css")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    """The sign-in form."""
    return _login_page(request, error=None)


@router.post("/login", response_model=None)
def login(request: Request, conn: Conn, key: Annotated[str, Form()], csrf: Annotated[str, Form()] = "") -> Response:
    """Check the key and open a server-side session whose token (not the key) goes into the cookie.

    Refused with 403 when the form came from another site or lacks its CSRF token, and with 429 (and
    ``Retry-After``) once the client failed ``login_max_failures`` times within ``login_window_s``.
    """
    check_login_csrf(request, csrf)
    api = request.app.state.settings.api
    client = client_address(request)
    throttle = login_throttle(conn, client=client, max_failures=api.login_max_failures, window_s=api.login_window_s)
    if throttle.blocked:
        response = _login_page(
            request,
            error=f"Too many failed sign-ins from your address; try again in {throttle.retry_after_s} s.",
            status_code=429,
        )
        response.headers["Retry-After"] = str(throttle.retry_after_s)
        return response
    principal = authenticate(conn, token=key.strip())
    if principal is None:
        record_login_failure(conn, client=client)
        return _login_page(request, error="That API key is unknown or was revoked.")
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        end_session(conn, token=old)
    life = lifetime(request)
    token = start_session(conn, key_id=principal.key_id, client=client, lifetime=life)
    response = RedirectResponse("/ui", status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token, max_age_s=life.absolute_s)
    delete_cookie(request, response, LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, conn: Conn, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    """End the session on the server, so its cookie no longer works anywhere, and drop the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    response = RedirectResponse("/ui/login", status_code=303)
    if token:
        check_session_csrf(request, csrf)
        end_session(conn, token=token)
        delete_cookie(request, response, SESSION_COOKIE)
    return response


@router.get("", response_class=HTMLResponse, response_model=None)
def home(request: Request, conn: Conn) -> Response:
    """The signed-in organization's overview: members for a cooperative, decisions and loans for a lender."""
    principal = session_principal(request, conn)
    if principal is None:
        return RedirectResponse("/ui/login", status_code=303)
    if principal.kind == "lender":
        return _lender_page(request, conn, principal)
    members = member_overview(conn, cooperative_id=principal.organization_id)
    return _page(
        request,
        "cooperative.html",
        org=principal,
        members=members,
        coverage_days=COVERAGE_DAYS,
        alerts=farm_records.open_alerts(conn, farm_ids=[m.farm_id for m in members]),
    )


def _in_log(conn: Conn, request: Request, seq: int) -> dict[str, Any]:
    """Whether audit entry ``seq`` is proven in the transparency log: its leaf index and checkpoint size, or why not."""
    try:
        made, head = proven_receipt(conn, request.app.state.settings, seq)
    except AuditError as exc:
        conn.rollback()
        return {"ok": False, "why": str(exc)}
    return {"ok": True, "index": made.index, "size": head.size}


def _lender_page(request: Request, conn: Conn, principal: Principal) -> HTMLResponse:
    """The lender's latest decision per consenting farm, its loans there with their status and PAR, and alerts."""
    lender = principal.organization_id
    farm_ids = visible_farm_ids(conn, principal=principal)
    decisions = [
        {**d, "output": json.loads(d["output"]), "in_log": _in_log(conn, request, d["audit_seq"])}
        for d in latest_decisions(conn, farm_ids=farm_ids, lender_organization_id=lender)
    ]
    book = portfolio(
        conn,
        as_of=datetime.now(UTC).date(),
        policy=request.app.state.policy,
        lender_organization_id=lender,
        farm_ids=farm_ids,
    )
    loans = []
    for loan in lender_loans(conn, lender_organization_id=lender, farm_ids=farm_ids):
        status = book.statuses[loan.id]
        loans.append(
            {
                **asdict(loan),
                "instalments": load_instalments(conn, loan_id=loan.id),
                "paid": status.paid_total.number,
                "status": status,
            }
        )
    return _page(
        request,
        "lender.html",
        org=principal,
        decisions=decisions,
        loans=loans,
        par=book.par,
        alerts=list_alerts(conn, farm_ids=farm_ids),
    )


@router.get("/farms/{farm_id}", response_class=HTMLResponse, response_model=None)
def farm_page(farm_id: UUID, request: Request, conn: Conn) -> Response:
    """A member farm: herd chart per species with evidence, fields on a map, crop areas, devices, alerts."""
    principal = session_principal(request, conn)
    if principal is None:
        return RedirectResponse("/ui/login", status_code=303)
    if not farm_visible(conn, principal=principal, farm_id=farm_id):
        raise ApiError(404, "Not found", f"Farm {farm_id} does not exist.")
    farm = load_farm(conn, farm_id=farm_id)
    fields = farm_records.crop_areas(conn, farm_id=farm_id)
    return _page(
        request,
        "farm.html",
        org=principal,
        farm=farm,
        herd_svg=line_chart(
            _herd_series(farm_records.herd(conn, farm_id=farm_id, days=90)),
            band_label=f"{INTERVAL_PERCENT} % interval",
        ),
        map_svg=field_map([MapField(_label(f), f.geometry, _ratio(f)) for f in sorted(fields, key=_label)]),
        crops=sorted(fields, key=_label),
        label=_label,
        evidence=farm_records.evidence(conn, farm_id=farm_id, limit=12, with_evidence_only=True),
        devices=farm_records.coverage(conn, farm_ids=[farm_id], days=COVERAGE_DAYS),
        coverage_days=COVERAGE_DAYS,
        alerts=farm_records.open_alerts(conn, farm_ids=[farm_id]),
    )


def _label(field: FieldCropAreaRow) -> str:
    """What the dashboard calls a field: its name, else its external id, else its id."""
    return field.name or field.external_id or str(field.field_id)


def _ratio(field: FieldCropAreaRow) -> float | None:
    return None if field.ratio is None else float(field.ratio)


def _herd_series(rows: list[HerdDayRow]) -> list[Series]:
    """One line per species: the daily maximum head, with that count's interval as its band (when one has any)."""
    by_species: dict[str, list[HerdDayRow]] = {}
    for row in rows:
        by_species.setdefault(row.species, []).append(row)
    out = []
    for species, days in sorted(by_species.items()):
        band = [None if d.head_low is None else (float(d.head_low), _float_or_none(d.head_high)) for d in days]
        out.append(
            Series(species, [(d.day, float(d.head)) for d in days], band if any(b is not None for b in band) else ())
        )
    return out


def _float_or_none(value: int | None) -> float | None:
    return None if value is None else float(value)


@router.get("/evidence/{frame_sha256}.jpg", response_model=None)
def evidence_image(frame_sha256: str, request: Request, conn: Conn) -> Response:
    """An evidence thumbnail of a farm the signed-in organization may see (records scope)."""
    principal = session_principal(request, conn)
    if principal is None:
        raise ApiError(404, "Not found", "No such evidence.")
    stored = farm_records.evidence_file(conn, principal=principal, frame_sha256=frame_sha256)
    if stored is None:
        raise ApiError(404, "Not found", "No such evidence.")
    root = request.app.state.settings.evidence_dir.resolve()
    path = (root / stored).resolve()
    if root not in path.parents or not path.is_file():
        raise ApiError(404, "Not found", "No such evidence.")
    return FileResponse(path, media_type="image/jpeg")
