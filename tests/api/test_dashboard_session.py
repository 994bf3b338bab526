"""The dashboard's session against the real app and PostgreSQL: CSRF, cookie flags, server-side sessions
(sign-out, revoked keys, idle and absolute expiry), throttled failed sign-ins and security headers."""

from __future__ import annotations

import hashlib
import re
from http.cookies import SimpleCookie

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from farmtrust.settings import Settings
from tests.api.factories import org_with_key

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def site(fresh_db_url, mqtt_url, tmp_path):
    """A cooperative and an admin with their keys; ``make(**api_settings)`` builds a client of a fresh app."""
    with psycopg.connect(fresh_db_url) as conn:
        coop, key = org_with_key(conn, "cooperative", "Coop A")
        _admin, admin_key = org_with_key(conn, "admin", "Ops")
        conn.commit()
    clients: list[TestClient] = []

    def make(base_url: str = "http://testserver", client: tuple[str, int] = ("198.51.100.7", 4000), **api):
        settings = Settings(db={"url": fresh_db_url}, mqtt={"url": mqtt_url}, data_dir=tmp_path, api=api)
        test_client = TestClient(create_app(settings), base_url=base_url, client=client).__enter__()
        clients.append(test_client)
        return test_client

    yield {"db": fresh_db_url, "coop": coop, "key": key, "admin_key": admin_key, "make": make}
    for test_client in clients:
        test_client.__exit__(None, None, None)


def _form_token(client: TestClient, path: str = "/ui/login") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    found = CSRF_FIELD.search(response.text)
    return found.group(1) if found else ""


def _sign_in(client: TestClient, key: str, **headers: str):
    token = _form_token(client)
    return client.post("/ui/login", data={"key": key, "csrf": token}, headers=headers or None, follow_redirects=False)


def _set_cookies(response) -> dict[str, dict[str, str]]:
    """The response's Set-Cookie headers: name -> {value, lower-cased attribute: value}."""
    found: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        jar = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            attrs = {"value": morsel.value}
            for part in header.split(";")[1:]:
                attr, _, value = part.strip().partition("=")
                attrs[attr.lower()] = value
            found[name] = attrs
    return found


def _sessions(db: str) -> list[tuple]:
    with psycopg.connect(db) as conn:
        return conn.execute("SELECT token_hash, ended_at FROM dashboard_sessions ORDER BY created_at").fetchall()


# CSRF


def test_a_cross_site_sign_in_is_refused_and_sets_no_cookie(site):
    client = site["make"]()
    token = _form_token(client)
    response = client.post(
        "/ui/login",
        data={"key": site["key"], "csrf": token},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "set-cookie" not in response.headers
    assert _sessions(site["db"]) == []


def test_a_sign_in_without_a_valid_csrf_token_is_refused_and_sets_no_cookie(site):
    client = site["make"]()
    _form_token(client)  # the browser holds the sign-in form's cookie
    for data in ({"key": site["key"]}, {"key": site["key"], "csrf": "forged-" + "x" * 40}):
        response = client.post("/ui/login", data=data, follow_redirects=False)
        assert response.status_code == 403, data
        assert "set-cookie" not in response.headers
    # a token copied from a form, but sent by a browser without the matching cookie (a forged request)
    token = _form_token(client)
    stranger = site["make"]()
    response = stranger.post("/ui/login", data={"key": site["key"], "csrf": token}, follow_redirects=False)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert _sessions(site["db"]) == []


def test_a_same_origin_sign_in_with_its_token_is_accepted(site):
    client = site["make"]()
    response = _sign_in(client, site["key"], Origin="http://testserver")
    assert response.status_code == 303 and response.headers["location"] == "/ui"
    assert "Coop A" in client.get("/ui").text


def test_sign_out_needs_the_sessions_csrf_token(site):
    client = site["make"]()
    assert _sign_in(client, site["key"]).status_code == 303
    page_token = _form_token(client, "/ui")
    assert client.post("/ui/logout", data={"csrf": "nope"}, follow_redirects=False).status_code == 403
    response = client.post(
        "/ui/logout", data={"csrf": page_token}, headers={"Origin": "https://evil.example"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "Coop A" in client.get("/ui").text  # still signed in


# the cookie


def test_the_session_cookie_is_not_the_key_and_is_httponly_and_same_site(site):
    client = site["make"]()
    response = _sign_in(client, site["key"])
    cookies = _set_cookies(response)
    session = cookies["ft_session"]
    assert session["value"] != site["key"] and site["key"] not in response.headers.get("set-cookie", "")
    assert "httponly" in session
    assert session["samesite"].lower() in ("lax", "strict")
    assert "secure" not in session  # plain http here
    # the server keeps only the sha256 of the token
    [(token_hash, ended_at)] = _sessions(site["db"])
    assert token_hash == hashlib.sha256(session["value"].encode()).hexdigest() and ended_at is None


def test_the_raw_api_key_in_the_old_cookie_no_longer_signs_in(site):
    client = site["make"]()
    client.cookies.set("ft_key", site["key"])
    response = client.get("/ui", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    assert client.get("/v1/me").status_code == 401


def test_the_cookie_is_secure_over_https(site):
    client = site["make"](base_url="https://testserver")
    response = _sign_in(client, site["key"], Origin="https://testserver")
    assert response.status_code == 303
    assert "secure" in _set_cookies(response)["ft_session"]
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_x_forwarded_proto_counts_only_when_configured(site):
    plain = site["make"]()
    _form_token(plain)
    response = _sign_in(plain, site["key"], **{"X-Forwarded-Proto": "https"})
    assert "secure" not in _set_cookies(response)["ft_session"]
    assert "strict-transport-security" not in response.headers

    proxied = site["make"](trust_forwarded_proto=True)
    response = _sign_in(proxied, site["key"], **{"X-Forwarded-Proto": "https", "Origin": "https://testserver"})
    assert response.status_code == 303
    assert "secure" in _set_cookies(response)["ft_session"]


# the session's life


def test_sign_out_ends_the_session_on_the_server(site):
    client = site["make"]()
    assert _sign_in(client, site["key"]).status_code == 303
    old = client.cookies.get("ft_session")
    assert client.get("/v1/me").json()["name"] == "Coop A"  # the API accepts the session too
    response = client.post("/ui/logout", data={"csrf": _form_token(client, "/ui")}, follow_redirects=False)
    assert response.status_code == 303
    assert _sessions(site["db"])[0][1] is not None  # ended_at set

    replay = site["make"]()  # someone who kept a copy of the old cookie
    replay.cookies.set("ft_session", old)
    response = replay.get("/ui", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/login"
    assert replay.get("/v1/me").status_code == 401


def test_a_revoked_key_ends_its_sessions(site):
    client = site["make"]()
    assert _sign_in(client, site["key"]).status_code == 303
    assert client.get("/ui", follow_redirects=False).status_code == 200
    admin = site["make"]()
    with psycopg.connect(site["db"]) as conn:
        [(key_id,)] = conn.execute("SELECT id FROM api_keys WHERE organization_id = %s", (site["coop"],)).fetchall()
    response = admin.delete(f"/v1/keys/{key_id}", headers={"Authorization": f"Bearer {site['admin_key']}"})
    assert response.status_code == 204
    response = client.get("/ui", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/login"


def _age(db: str, *, idle_s: int = 0, since_sign_in_s: int = 0) -> None:
    with psycopg.connect(db) as conn:
        conn.execute(
            """UPDATE dashboard_sessions SET last_seen_at = now() - make_interval(secs => %s),
                                           created_at = now() - make_interval(secs => %s)""",
            (idle_s, since_sign_in_s),
        )


def test_sessions_expire_after_the_configured_idle_and_absolute_lifetimes(site):
    client = site["make"](session_idle_s=600, session_absolute_s=3600)
    assert _sign_in(client, site["key"]).status_code == 303

    _age(site["db"], idle_s=500, since_sign_in_s=3000)  # used 500 s ago, signed in 50 min ago: alive
    assert client.get("/ui", follow_redirects=False).status_code == 200
    with psycopg.connect(site["db"]) as conn:
        seen_ago = conn.execute("SELECT extract(epoch FROM now() - last_seen_at) FROM dashboard_sessions").fetchone()
    assert seen_ago[0] < 60  # using it renewed the idle lifetime

    _age(site["db"], idle_s=601, since_sign_in_s=700)  # idle too long
    assert client.get("/ui", follow_redirects=False).status_code == 303

    assert _sign_in(client, site["key"]).status_code == 303
    _age(site["db"], idle_s=5, since_sign_in_s=3601)  # in use, but signed in over an hour ago
    assert client.get("/ui", follow_redirects=False).status_code == 303


# throttling


def test_failed_sign_ins_are_throttled_per_client(site):
    attacker = site["make"](client=("203.0.113.9", 5000), login_max_failures=3, login_window_s=120)
    for _ in range(3):
        response = _sign_in(attacker, "ft_guess")
        assert response.status_code == 200 and "unknown or was revoked" in response.text
    for key in ("ft_guess", site["key"]):  # blocked: even the right key is not tried
        response = _sign_in(attacker, key)
        assert response.status_code == 429
        assert 1 <= int(response.headers["retry-after"]) <= 120
        assert "ft_session" not in _set_cookies(response)

    colleague = site["make"](client=("198.51.100.23", 5001), login_max_failures=3, login_window_s=120)
    assert _sign_in(colleague, site["key"]).status_code == 303

    with psycopg.connect(site["db"]) as conn:  # the failures leave the window
        conn.execute("UPDATE dashboard_login_failures SET failed_at = failed_at - interval '121 seconds'")
    assert _sign_in(attacker, site["key"]).status_code == 303


# headers


def _csp(response) -> dict[str, list[str]]:
    policy: dict[str, list[str]] = {}
    for directive in response.headers["content-security-policy"].split(";"):
        name, *values = directive.split()
        policy[name] = values
    return policy


def test_dashboard_pages_send_the_security_headers(site):
    client = site["make"]()
    assert _sign_in(client, site["key"]).status_code == 303
    for path in ("/ui/login", "/ui"):
        response = client.get(path)
        assert response.status_code == 200
        policy = _csp(response)
        assert policy["default-src"] == ["'none'"] and "script-src" not in policy  # no script at all
        assert not any("'unsafe-inline'" in values for values in policy.values())
        assert policy["frame-ancestors"] == ["'none'"]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["cache-control"] == "no-store"
        assert "<script" not in response.text and "<style" not in response.text and "style=" not in response.text
    css = client.get("/ui/static/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_api_responses_send_the_security_headers(site):
    client = site["make"]()
    for path in ("/healthz", "/v1/me"):
        response = client.get(path)
        assert _csp(response)["default-src"] == ["'none'"]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert _csp(client.get("/docs"))["frame-ancestors"] == ["'none'"]


def test_api_changes_with_the_session_cookie_need_the_csrf_header(site):
    client = site["make"]()
    assert _sign_in(client, site["key"]).status_code == 303
    body = {"name": "Cookie farm", "region": "nakuru"}
    assert client.post("/v1/farms", json=body).status_code == 403
    token = _form_token(client, "/ui")
    response = client.post("/v1/farms", json=body, headers={"X-CSRF-Token": token})
    assert response.status_code == 201, response.text
