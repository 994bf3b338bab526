"""Standard security headers on every response, as a plain ASGI middleware (no per-request task).

The dashboard (``/ui``) gets a Content-Security-Policy that allows only its own stylesheet and images (no
script at all, no inline style); the API's JSON gets one that allows nothing; the interactive docs
(``/docs``, ``/redoc``, which load their scripts from a CDN) only may not be framed. All get
``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``, and
``Strict-Transport-Security`` when the request came over https.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DASHBOARD_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
DOCS_CSP = "frame-ancestors 'none'"
HSTS = "max-age=31536000"

_COMMON = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make browsers send "Origin: null"
]


def content_security_policy(path: str) -> str:
    """The Content-Security-Policy for a request path."""
    if path == "/ui" or path.startswith("/ui/"):
        return DASHBOARD_CSP
    if path.startswith(("/docs", "/redoc")):
        return DOCS_CSP
    return API_CSP


class SecurityHeaders:
    """Add the security headers to each HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, *, trust_forwarded_proto: bool = False) -> None:
        """Wrap ``app``; ``trust_forwarded_proto`` makes ``X-Forwarded-Proto: https`` count as https."""
        self.app = app
        self.trust_forwarded_proto = trust_forwarded_proto

    def _https(self, scope: Scope) -> bool:
        if scope.get("scheme") == "https":
            return True
        if not self.trust_forwarded_proto:
            return False
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-proto":
                return bool(value.split(b",")[0].strip().lower() == b"https")
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [*_COMMON, (b"content-security-policy", content_security_policy(scope["path"]).encode())]
        if self._https(scope):
            extra.append((b"strict-transport-security", HSTS.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in extra if name not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
