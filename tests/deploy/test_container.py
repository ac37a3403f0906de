"""deploy/container: what can be checked without building an image (no registry here).

The compose file parses and wires the services as docs/deployment.md says; nginx in it uses
the very file tests/cluster/test_nginx.py tests, with the hubs on its upstream ports; every
file the Containerfile copies exists; the CI workflow that builds the image uses these paths.
.github/workflows/container.yml builds and smoke-tests the image where a registry is reachable.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy" / "container"
CONTAINERFILE = HERE / "Containerfile"
COMPOSE = HERE / "compose.yaml"
CONF = ROOT / "deploy" / "nginx" / "chit.conf"
HUBS = {"hub-1", "hub-2", "hub-3"}


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Containerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_compose_runs_three_hubs_nginx_redis_and_postgres() -> None:
    services = _compose()["services"]
    assert set(services) == {*HUBS, "nginx", "redis", "postgres"}
    for name in HUBS:
        hub = services[name]
        assert hub["restart"] == "always"
        assert hub["network_mode"] == "service:nginx"  # 127.0.0.1:300x is nginx's upstream
        assert {"redis", "postgres"} <= set(hub["depends_on"])
        env = hub["environment"]
        assert env["CHIT_HUB_INSTANCE_ID"] == name
        assert env["CHIT_HUB_REDIS_URL"].startswith("redis://redis:")
        assert "@postgres:5432/" in env["CHIT_HUB_DATABASE_URL"]
        assert env["CHIT_HUB_TRUSTED_PROXIES"] == "127.0.0.1"  # nginx, in the same namespace
        assert hub["volumes"] == [f"{name}-data:/var/lib/chit-hub"]


def test_compose_nginx_uses_the_tested_configuration_and_reaches_every_hub() -> None:
    services = _compose()["services"]
    mounts = [v.split(":") for v in services["nginx"]["volumes"]]
    [conf] = [(src, dst) for src, dst, *_ in mounts if dst.startswith("/etc/nginx/")]
    assert (HERE / conf[0]).resolve() == CONF  # the file test_nginx.py runs, unchanged
    assert conf[1] == "/etc/nginx/conf.d/default.conf"
    [certs] = [dst for _, dst, *_ in mounts if dst == "/etc/ssl/chit"]
    assert f"{certs}/fullchain.pem" in CONF.read_text()
    upstream = {int(p) for p in re.findall(r"server 127\.0\.0\.1:(\d+);", CONF.read_text())}
    ports = {int(services[name]["environment"]["CHIT_HUB_PORT"]) for name in HUBS}
    assert ports == upstream
    assert all(env["CHIT_HUB_HOST"] == "127.0.0.1" for env in _envs(services))


def _envs(services: dict[str, Any]) -> list[dict[str, str]]:
    return [services[name]["environment"] for name in HUBS]


def test_compose_builds_the_containerfile_from_the_repository_root() -> None:
    for name in HUBS:
        build = _compose()["services"][name]["build"]
        context = (HERE / build["context"]).resolve()
        assert context == ROOT
        assert (context / build["dockerfile"]).resolve() == CONTAINERFILE


def test_every_file_the_containerfile_copies_exists() -> None:
    copies = [args for op, args in _instructions() if op == "COPY" and "--from" not in args]
    assert copies
    for args in copies:
        *sources, _ = shlex.split(args)
        for source in sources:
            assert (ROOT / source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "node_modules" in ignored


def test_the_image_runs_chit_hub_serve_as_its_own_user() -> None:
    instructions = dict(_instructions())  # the last of each kind
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert instructions["ENTRYPOINT"] == '["chit-hub"]' and "chit-hub" in scripts
    assert instructions["CMD"] == '["serve"]'
    assert instructions["USER"] == "chit-hub"
    assert "/healthz" in instructions["HEALTHCHECK"]


def test_the_ci_workflow_builds_and_smoke_tests_these_files() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "container.yml").read_text())
    steps = workflow["jobs"]["image"]["steps"]
    commands = "\n".join(step.get("run", "") for step in steps)
    assert "docker build -f deploy/container/Containerfile" in commands
    assert "docker compose up" in commands and "https://localhost/readyz" in commands
    assert workflow["jobs"]["image"]["defaults"]["run"]["working-directory"] == "deploy/container"
