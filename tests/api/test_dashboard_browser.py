"""The dashboard in a real headless browser (Debian's chromium driven by Playwright): pages render with data,
without console errors, and a cooperative cannot open another cooperative's farm page."""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import uvicorn
from playwright.sync_api import sync_playwright

from api.app import create_app
from farmtrust.services import free_port
from farmtrust.settings import Settings
from store.tenants import grant_consent
from tests.api.factories import SQUARE, farm_with_data, org_with_key
from tests.signers import TEST_SIGNER

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def site(fresh_db_url, mqtt_url, tmp_path):
    from credit import decide_limit, load_policy
    from credit.policy import DEFAULT_POLICY_PATH
    from store.credit_records import record_decision
    from usecases.farm_records import load_farm_record

    policy = load_policy(DEFAULT_POLICY_PATH)
    with psycopg.connect(fresh_db_url) as conn:
        coop_a, key_a = org_with_key(conn, "cooperative", "Coop A")
        _coop_b, key_b = org_with_key(conn, "cooperative", "Coop B")
        lender, key_l = org_with_key(conn, "lender", "Lender L")
        farm_a = farm_with_data(conn, cooperative_id=coop_a)
        conn.execute(
            "INSERT INTO fields (farm_id, external_id, name, geometry, declared_crop, declared_area_ha) "
            "VALUES (%s, 'F1', 'North field', %s, 'maize', 1.5)",
            (farm_a, json.dumps(SQUARE)),
        )
        grant_consent(
            conn, farm_id=farm_a, lender_id=lender, granted_by=coop_a, expires_at=datetime.now(UTC) + timedelta(days=30)
        )
        record = load_farm_record(conn, farm_id=farm_a, as_of=datetime.now(UTC))
        record_decision(
            conn,
            signer=TEST_SIGNER,
            decision=decide_limit(record, policy),
            record=record,
            policy=policy,
            lender_organization_id=lender,
        )
        conn.commit()
    settings = Settings(db={"url": fresh_db_url}, mqtt={"url": mqtt_url}, data_dir=tmp_path)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "farm_a": farm_a, "key_a": key_a, "key_b": key_b, "key_l": key_l}
    server.should_exit = True
    thread.join(10)


def _browser(p):
    return p.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    )


def _sign_in(page, base: str, key: str) -> None:
    page.goto(f"{base}/ui/login")
    page.fill("input[name=key]", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/ui")


def test_cooperative_and_lender_pages_render_with_data(site):
    errors: list[str] = []
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        _sign_in(page, site["url"], site["key_a"])
        assert page.locator("#members tr").count() == 2  # header + the member farm
        page.click("text=Data farm")
        page.wait_for_url(f"{site['url']}/ui/farms/{site['farm_a']}")
        assert page.locator("svg.chart circle").count() == 60  # 60 days of counted herd
        assert page.locator("svg.map polygon").count() == 1
        assert "North field" in page.inner_text("#crops")
        page.screenshot(path=str(site.get("shot", "/tmp/farmtrust-dashboard-farm.png")), full_page=True)

        lender = browser.new_page()
        lender.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        _sign_in(lender, site["url"], site["key_l"])
        text = lender.inner_text("main")
        assert "Data farm: approved" in text and "PAR30" in text
        browser.close()
    assert errors == []


def test_a_cooperative_cannot_open_another_cooperatives_farm(site):
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page()
        _sign_in(page, site["url"], site["key_b"])
        response = page.goto(f"{site['url']}/ui/farms/{site['farm_a']}")
        assert response.status == 404
        assert "Data farm" not in page.content()
        browser.close()


def test_wrong_key_is_refused_at_sign_in(site):
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page()
        page.goto(f"{site['url']}/ui/login")
        page.fill("input[name=key]", "ft_wrong")
        page.click("button[type=submit]")
        assert "unknown or was revoked" in page.inner_text("[role=alert]")
        assert page.goto(f"{site['url']}/ui/farms/{site['farm_a']}").url.endswith("/ui/login")
        browser.close()


def test_sign_out_ends_the_session(site):
    with sync_playwright() as p:
        browser = _browser(p)
        context = browser.new_context()
        page = context.new_page()
        _sign_in(page, site["url"], site["key_a"])
        [cookie] = [c for c in context.cookies() if c["name"] == "ft_session"]
        assert cookie["value"] != site["key_a"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        page.click("text=Sign out")
        page.wait_for_url(f"{site['url']}/ui/login")
        # the old cookie, put back by hand, no longer opens the dashboard
        context.add_cookies([{k: cookie[k] for k in ("name", "value", "domain", "path")}])
        assert page.goto(f"{site['url']}/ui").url.endswith("/ui/login")
        browser.close()


def test_a_form_on_another_site_cannot_sign_in(site):
    form = (
        f'<form method="post" action="{site["url"]}/ui/login"><input name="key" value="{site["key_a"]}">'
        '<input name="csrf" value="guessed"><button type="submit">Win a tractor</button></form>'
    )
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page()
        page.route("http://attacker.test/", lambda route: route.fulfill(body=form, content_type="text/html"))
        page.goto("http://attacker.test/")
        with page.expect_response(f"{site['url']}/ui/login") as answer:
            page.click("button[type=submit]")
        assert answer.value.status == 403
        assert page.goto(f"{site['url']}/ui").url.endswith("/ui/login")
        browser.close()
