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
        await post_webhook(
            policy.webhook_url,
            alert.to_json(),
            client=policy.http_client,
            timeout_s=policy.webhook_timeout_s,
        )


async def post_webhook(
    url: str, payload: dict[str, Any], *, client: Any = None, timeout_s: float = 5.0
) -> bool:
    """POST `payload` as JSON; ``True`` on a 2xx answer. Failures are logged, never raised."""
    import httpx  # only alerts with a webhook need it

    try:
        async with asyncio.timeout(timeout_s):
            if client is not None:
                response = await client.post(url, json=payload)
            else:
                async with httpx.AsyncClient() as own:
                    response = await own.post(url, json=payload)
    except (httpx.HTTPError, TimeoutError) as exc:
        log.warning("breaker alert webhook %s failed: %s", url, exc or type(exc).__name__)
        return False
    if not response.is_success:
        log.warning("breaker alert webhook %s answered %s", url, response.status_code)
        return False
    return True


__all__ = ["post_webhook", "send_alert"]
