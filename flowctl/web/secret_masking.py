"""Every known secret, masked in what a request shows that nobody masked before it was stored (XCom values):
the masker is built once per request, on first use, so a page without such values costs no query."""

from __future__ import annotations

import os

from flask import g

from flowctl.logs import SecretMasker
from flowctl.web import db


def request_masker() -> SecretMasker:
    """The metadata DB's and this webserver's environment's secrets (two queries, once per request)."""
    if "secret_masker" not in g:
        from flowctl.services.known_secrets import known_secrets_masker

        g.secret_masker = known_secrets_masker(db.session(), db.cipher(), environ=os.environ)
    return g.secret_masker
