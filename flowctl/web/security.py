"""Response headers every page and API answer carries, and the one rule for where a redirect may go."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from flask import Flask, Response, request

# No inline scripts: every script is a file served by flowctl. Inline styles are allowed for the SVG
# drawings' colours. Nothing is loaded from elsewhere (flowctl works offline).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)


def _add_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def safe_next(target: str | None, default: str = "/") -> str:
    """`target` if it is a path on this site ("/dags/x?y"), else `default`: never another host, never a
    scheme-relative "//host" or "/\\host", never a URL with a scheme."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ch in target for ch in "\r\n\t\\"):
        return default
    return target


def here() -> str:
    """This request's path and query as a link back to it: the path percent-encoded again (Werkzeug decodes
    it), as a run id may hold "?", "#" or "%"."""
    query = request.query_string.decode("latin-1")
    return quote(request.script_root + request.path) + (f"?{query}" if query else "")
