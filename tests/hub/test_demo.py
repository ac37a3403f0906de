"""``chit-hub --demo``: demo tenant and login, a paired in-process agent, three printers."""

from __future__ import annotations

from hub import demo
from hub.services.locator import Requester
from hub.settings import Settings
from tests.e2e.support import eventually
from tests.support import SECRET, HubHarness


async def _login(hub: HubHarness, login: demo.DemoLogin) -> int:
    body = {"username": login.username, "password": login.password}
    status, _ = await hub.post("/api/v1/auth/login", body)
    return status


async def test_manager_is_created_once_and_gets_a_new_password_each_start(
    hub: HubHarness,
) -> None:
    first = await demo.ensure_manager(hub.ctx.db)
    second = await demo.ensure_manager(hub.ctx.db)
    assert first.username == second.username == demo.USERNAME
    assert first.password != second.password
    assert await _login(hub, second) == 200
    assert await _login(hub, first) == 401


async def test_agent_and_printers_come_up_and_a_revoked_demo_agent_is_paired_again(
    hub: HubHarness,
) -> None:
    await demo.ensure_manager(hub.ctx.db)
    settings = Settings(data_dir=hub.data_dir, jwt_secret=SECRET)
    manager = Requester(demo.COMPANY, demo.BRANCH, "test")
    for _ in range(2):
        token = await demo.pair_agent(hub.ctx.db, SECRET)
        async with demo.running_agent(settings, hub.running, token):
            record = await eventually(
                lambda: (
                    (r := hub.ctx.printing.registry.agent(demo.COMPANY, demo.AGENT_ID))
                    and r.online
                    and len(r.printers) == 3
                    and r
                )
            )
            assert record.branch_id == demo.BRANCH
            assert await hub.ctx.printing.revoke(manager, demo.AGENT_ID)


async def test_the_demo_printers_reach_the_hub_by_name(hub: HubHarness) -> None:
    await demo.ensure_manager(hub.ctx.db)
    settings = Settings(data_dir=hub.data_dir, jwt_secret=SECRET)
    token = await demo.pair_agent(hub.ctx.db, SECRET)
    async with demo.running_agent(settings, hub.running, token):
        await eventually(
            lambda: (
                (r := hub.ctx.printing.registry.agent(demo.COMPANY, demo.AGENT_ID))
                and len(r.printers) == 3
            )
        )
        login = await demo.ensure_manager(hub.ctx.db)
        _, body = await hub.post(
            "/api/v1/auth/login", {"username": login.username, "password": login.password}
        )
        status, listed = await hub.get("/api/v1/printers", token=body["token"])
    assert status == 200
    names = sorted(p["name"] for p in listed["printers"])
    assert names == ["Bar", "Front counter", "Kitchen"]
    assert not any(name.startswith("Network printer") for name in names)


async def test_the_demo_admin_sees_monitoring_and_the_manager_does_not(hub: HubHarness) -> None:
    manager = await demo.ensure_manager(hub.ctx.db)
    admin = await demo.ensure_admin(hub.ctx.db)
    statuses = {}
    for login in (manager, admin):
        _, body = await hub.post(
            "/api/v1/auth/login", {"username": login.username, "password": login.password}
        )
        statuses[login.username], _ = await hub.get("/api/v1/connections", token=body["token"])
    assert statuses == {demo.USERNAME: 403, demo.ADMIN_USERNAME: 200}
    text = demo.banner("http://127.0.0.1:3001", manager, admin)
    assert f"{admin.username} / {admin.password}" in text and "Monitoring" in text
    assert f"{manager.username} / {manager.password}" in text
