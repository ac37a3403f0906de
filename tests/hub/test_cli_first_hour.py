"""``chit-hub`` as a newcomer meets it (issue 17): start-up failures, passwords, listen, help.

Every command runs as a real subprocess, the way a person runs it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hub.store import passwords, users
from tests.support import SECRET, HubHarness, free_port

TRACEBACK = "Traceback (most recent call last)"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIT_HUB_")}
    env["CHIT_HUB_DATA_DIR"] = str(tmp_path / "hub-data")
    return env


def hub_cli(
    tmp_path: Path, *args: str, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``chit-hub ARGS`` to the end."""
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        env=_env(tmp_path),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _one_error(done: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """A failure said in one ``error:`` line, with no traceback and nothing claimed as started."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert TRACEBACK not in done.stderr, done.stderr
    assert "listening on" not in done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


# --- point 7: start-up failures ---------------------------------------------------------------


def test_a_port_in_use_is_one_sentence(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = hub_cli(tmp_path, "serve", "--port", str(port))
    _one_error(done, 1, f"port {port} is in use", "--port")


def test_the_demo_on_a_port_in_use_is_one_sentence(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = hub_cli(tmp_path, "--demo", "--port", str(port))
    _one_error(done, 1, f"port {port} is in use")


def test_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    afile = tmp_path / "not-a-dir"
    afile.write_text("x")
    _one_error(
        hub_cli(tmp_path, "serve", "--port", "0", "--data-dir", str(afile)),
        1,
        "is a file, not a directory",
        "--data-dir",
    )
    _one_error(
        hub_cli(tmp_path, "serve", "--port", "0", "--data-dir", str(afile / "sub")),
        1,
        "cannot create the data directory",
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes any directory")
def test_an_unreadable_data_dir(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    try:
        done = hub_cli(tmp_path, "serve", "--port", "0", "--data-dir", str(locked))
    finally:
        locked.chmod(0o700)
    _one_error(done, 1, "permission denied", "--data-dir")


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("mysql://root@127.0.0.1/chit", "unsupported database URL"),
        ("not a url", "bad database URL 'not a url'"),
        ("postgresql://chit:s3cret@127.0.0.1:1/chit", "connection refused"),
    ],
)
def test_a_bad_database_url(tmp_path: Path, url: str, needle: str) -> None:
    line = _one_error(
        hub_cli(tmp_path, "serve", "--port", "0", "--database-url", url),
        1,
        needle,
        "--database-url",
    )
    assert "s3cret" not in line, "the password is shown"


def test_an_unreachable_redis(tmp_path: Path) -> None:
    port = free_port()
    _one_error(
        hub_cli(tmp_path, "serve", "--port", "0", "--redis-url", f"redis://127.0.0.1:{port}/0"),
        1,
        f"cannot reach Redis at redis://127.0.0.1:{port}/0: connection refused",
        "--redis-url",
    )


def test_a_setting_that_does_not_parse(tmp_path: Path) -> None:
    env_done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "serve"],
        env={**_env(tmp_path), "CHIT_HUB_PORT": "three thousand"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    _one_error(env_done, 2, "setting port: expected a whole number")


def test_a_missing_public_key_file(tmp_path: Path) -> None:
    missing = tmp_path / "platform.pem"
    _one_error(
        hub_cli(tmp_path, "serve", "--port", "0", "--public-key", str(missing)),
        1,
        f"cannot read {missing}",
        "--public-key",
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_serve_says_listening_once_bound_and_stops_quietly(
    tmp_path: Path, sig: signal.Signals
) -> None:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        "serve",
        "--port",
        str(port),
        env=_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        lines = []
        while not lines or "listening on" not in lines[-1]:
            lines.append((await asyncio.wait_for(proc.stdout.readline(), 30)).decode())
            assert lines[-1], "the hub exited"
        assert lines[-1].rstrip().endswith(f"http://127.0.0.1:{port}")
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # it really is bound when it says so
        proc.send_signal(sig)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        err = (await proc.stderr.read()).decode()
        assert TRACEBACK not in err and "CancelledError" not in err, err
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


# --- points 10 and 17: one password policy, no terminal needed ------------------------------


def _add(tmp_path: Path, *extra: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    base = ("user", "add", "--username", "ana", "--role", "manager", "--company", "acme")
    return hub_cli(tmp_path, *base, *extra, stdin=stdin)


def test_user_add_refuses_what_the_password_change_refuses(tmp_path: Path) -> None:
    short = "x" * (passwords.MIN_LENGTH - 1)
    assert passwords.policy_problem(short) is not None
    _one_error(_add(tmp_path, "--password", short), 2, f"at least {passwords.MIN_LENGTH}")
    _one_error(_add(tmp_path, "--password", " " * 12), 2, "only spaces")
    done = _add(tmp_path, "--password", "x" * passwords.MIN_LENGTH)
    assert done.returncode == 0, done.stderr


async def test_the_same_password_is_refused_over_rest(hub: HubHarness) -> None:
    async with hub.ctx.db.session() as s:
        await users.create_user(s, "bo", "long enough pass", "manager", "acme")
    _, login = await hub.post(
        "/api/v1/auth/login", {"username": "bo", "password": "long enough pass"}
    )
    short = "x" * (passwords.MIN_LENGTH - 1)
    status, body = await hub.post(
        "/api/v1/me/password",
        {"currentPassword": "long enough pass", "newPassword": short},
        token=login["token"],
    )
    assert (status, body["code"]) == (422, "weak_password")
    assert body["message"] == passwords.policy_problem(short)


def test_user_add_reads_the_password_from_a_pipe(tmp_path: Path) -> None:
    done = _add(tmp_path, stdin="piped password 1\n")
    assert done.returncode == 0, done.stderr
    assert "GetPassWarning" not in done.stderr and "echo" not in done.stderr.lower()
    assert "created manager 'ana'" in done.stdout


def test_user_add_without_a_password_or_terminal_says_what_to_do(tmp_path: Path) -> None:
    done = _add(tmp_path)  # stdin is /dev/null: no terminal, nothing piped
    _one_error(done, 2, "give --password, or pipe it on standard input")
    assert "GetPassWarning" not in done.stderr


# --- point 13: a runnable listener ---------------------------------------------------------


async def test_listen_prints_what_is_published_to_the_tenant(
    hub: HubHarness, tmp_path: Path
) -> None:
    env = {**_env(tmp_path), "CHIT_HUB_JWT_SECRET": SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        "listen",
        "--url",
        hub.url,
        "--namespace",
        "/orders",
        "--company",
        "acme",
        "--branch",
        "b1",
        "--count",
        "1",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None and proc.stdout is not None
    try:
        ready = await asyncio.wait_for(proc.stderr.readline(), 30)
        assert b"listening on /orders" in ready, ready
        status, _ = await hub.publish(
            "newOrder", {"orderId": "o-7", "status": "new"}, company="acme", branch="b1"
        )
        assert status == 202
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert line.startswith('/orders newOrder {"') and '"orderId": "o-7"' in line
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_listen_says_what_the_hub_refused(hub: HubHarness, tmp_path: Path) -> None:
    env = {**_env(tmp_path), "CHIT_HUB_JWT_SECRET": SECRET}
    args = ("listen", "--url", hub.url, "--company", "acme", "--branch", "not-provisioned")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert "not a branch of your company" in err.decode() and TRACEBACK not in err.decode()


def test_listen_without_a_hub(tmp_path: Path) -> None:
    done = hub_cli(
        tmp_path, "listen", "--company", "demo", "--url", f"http://127.0.0.1:{free_port()}"
    )
    _one_error(done, 1, "no hub answers there")
    assert "Unclosed" not in done.stderr


# --- point 16: help for users ----------------------------------------------------------------

HUB_COMMANDS = [(), ("serve",), ("token",), ("user",), ("user", "add"), ("branch",), ("listen",)]


@pytest.mark.parametrize("command", HUB_COMMANDS)
def test_help_is_for_users(tmp_path: Path, command: tuple[str, ...]) -> None:
    done = hub_cli(tmp_path, *command, "--help")
    assert done.returncode == 0, done.stderr
    for internals in ("``", "module", "composition root", "docstring"):
        assert internals not in done.stdout, (internals, done.stdout)


def test_an_unreadable_secret_in_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "jwt-secret").mkdir(parents=True)  # something that cannot be read as the secret
    _one_error(
        hub_cli(tmp_path, "serve", "--port", "0", "--data-dir", str(data)),
        1,
        "signing secret",
        "--data-dir",
    )


async def test_listen_stops_quietly_on_ctrl_c(hub: HubHarness, tmp_path: Path) -> None:
    env = {**_env(tmp_path), "CHIT_HUB_JWT_SECRET": SECRET}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        "listen",
        "--url",
        hub.url,
        "--company",
        "acme",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        assert b"listening on" in await asyncio.wait_for(proc.stderr.readline(), 30)
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert TRACEBACK not in err.decode() and "CancelledError" not in err.decode(), err
