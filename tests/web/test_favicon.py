"""The icon browsers ask for (issue 10, item 17): served by flowctl, linked from every page."""

from __future__ import annotations

import pytest

from flowctl.roles import Role
from tests.web.conftest import Web

pytestmark = pytest.mark.sqlite_only  # what it checks does not depend on the metadata DB


def test_favicon_is_served_and_linked_from_every_page(web: Web) -> None:
    client = web.client(Role.ADMIN)

    icon = client.get("/favicon.ico")
    linked = client.get("/static/favicon.ico")

    assert icon.status_code == 200 and icon.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert icon.data[:4] == b"\x00\x00\x01\x00" and icon.data == linked.data  # an ICO file
    for page_client, path in [
        (client, "/"),
        (client, "/admin/connections"),
        (client, "/nowhere"),
        (web.client(), "/login"),
    ]:
        page = page_client.get(path).get_data(as_text=True)
        assert '<link rel="icon" href="/static/favicon.ico"' in page, path
