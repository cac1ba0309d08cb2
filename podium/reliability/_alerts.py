"""Telling people that a breaker opened: a Python callback and an optional webhook.

An alert never fails a run: a callback that raises or a webhook that is down or slow is logged
and given up.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

from podium.reliability._breaker import BreakerAlert, BreakerPolicy

log = logging.getLogger(__name__)


async def send_alert(policy: BreakerPolicy, alert: BreakerAlert) -> None:
    """Call the policy's `alert` callback and POST to its `webhook_url`, if set."""
    if policy.alert is not None:
        try:
            result = policy.alert(alert)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("the breaker alert callback failed for %s:%s", alert.scope, alert.name)
    if policy.webhook_url is not None:
        problem = await post_webhook(
            policy.webhook_url,
            alert.to_json(),
            client=policy.http_client,
            timeout_s=policy.webhook_timeout_s,
        )
        if problem is not None:
            log.warning("breaker alert webhook %s: %s", policy.webhook_url, problem)


async def post_webhook(
    url: str, payload: dict[str, Any], *, client: Any = None, timeout_s: float = 5.0
) -> str | None:
    """POST `payload` as JSON; ``None`` on a 2xx answer, else what went wrong (never raises:
    an alert must not fail what raised it)."""
    import httpx  # only alerts with a webhook need it

    try:
        async with asyncio.timeout(timeout_s):
            if client is not None:
                response = await client.post(url, json=payload)
            else:
                async with httpx.AsyncClient() as own:
                    response = await own.post(url, json=payload)
    except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if not response.is_success:
        return f"the webhook answered {response.status_code}"
    return None


__all__ = ["post_webhook", "send_alert"]
