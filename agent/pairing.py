"""Pair this agent with a hub: trade a one-time code (from the manager UI) for a device token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

REDEEM_PATH = "/api/v1/pairing/redeem"
TIMEOUT_SECONDS = 15.0


class PairingFailed(Exception):
    """The hub refused the code, or could not be reached; the message is for people.

    ``refused`` tells the two apart: a refused code stays refused, an unreachable hub may
    answer later (a till enrolling at first boot, before its network is up).
    """

    def __init__(self, message: str, refused: bool = True) -> None:
        super().__init__(message)
        self.refused = refused


@dataclass(frozen=True)
class Paired:
    """What the hub answered to a redeemed code."""

    token: str
    company_id: str
    branch_id: str
    agent_id: str


async def redeem(
    hub_url: str,
    code: str,
    agent_id: str,
    hostname: str | None,
    timeout: float = TIMEOUT_SECONDS,
    path: str = REDEEM_PATH,
) -> Paired:
    """POST the code to the hub's ``path``; PairingFailed with the hub's message when refused."""
    body = {"code": code, "agentId": agent_id, "hostname": hostname}
    url = hub_url.rstrip("/") + path
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
            http.post(url, json=body) as resp,
        ):
            answer: Any = await resp.json(content_type=None)
            status = resp.status
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        reason = str(exc) or type(exc).__name__
        unreachable = f"no usable answer from the hub at {hub_url}: {reason}"
        raise PairingFailed(unreachable, refused=False) from exc
    if status != 200 or not isinstance(answer, dict):
        message = str(answer.get("message") or "") if isinstance(answer, dict) else ""
        # 429 (too many tries) and 5xx (hub or proxy trouble) may pass; a 4xx answer stays.
        lasting = 400 <= status < 500 and status != 429
        raise PairingFailed(message or f"the hub answered HTTP {status}", refused=lasting)
    try:
        return Paired(answer["token"], answer["companyId"], answer["branchId"], answer["agentId"])
    except KeyError as exc:
        raise PairingFailed(f"the hub's answer lacks {exc}") from exc
