"""Extension: ``POST /api/subscriptions``, the site's subscribe form for API clients."""

from __future__ import annotations

import pytest

from quartblog.jobs import drain

from ..mailbox import link_in



@pytest.fixture
def app_config(mailbox):
    return {"SMTP_URL": mailbox.url, "SITE_URL": "http://blog.test"}


async def test_an_api_client_subscribes_an_address(app, client, mailbox):
    body = {"subscription": {"email": "Reader@Example.com", "locale": "zh_Hans"}}
    response = await client.post("/api/subscriptions", json=body)
    assert response.status_code == 202
    assert await response.get_json() == {"subscription": {"email": "reader@example.com", "confirmed": False}}
    assert await drain(app) == 1
    [message] = await mailbox.wait_for(1)
    assert message["To"] == "reader@example.com" and message["Content-Language"] == "zh-Hans"
    path = link_in(message, "/subscribe/confirm/")
    assert (await client.get(path)).status_code == 200

    again = await client.post("/api/subscriptions", json=body)  # confirmed now: the same answer
    assert again.status_code == 202 and await again.get_json() == await response.get_json()
    assert await drain(app) == 0 and len(mailbox.messages) == 1

    bad = await client.post("/api/subscriptions", json={"subscription": {"email": "nope"}})
    assert bad.status_code == 422 and (await bad.get_json())["errors"]["email"] == ["is invalid"]
