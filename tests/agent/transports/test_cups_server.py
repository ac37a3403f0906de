"""Finding the CUPS server the way libcups' cupsServer() does."""

from __future__ import annotations

from pathlib import Path

from agent.transports.cups_server import CupsServer, find_server, parse_server


def _conf(path: Path, server: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# a comment\nEncryption Never\nServerName {server}\n")


def test_cups_server_beats_the_client_conf_files(tmp_path: Path) -> None:
    _conf(tmp_path / "home" / ".cups" / "client.conf", "user.example:632")
    env = {"CUPS_SERVER": "10.0.0.2:6310", "CUPS_SERVERROOT": str(tmp_path / "etc")}
    assert find_server(env, home=tmp_path / "home") == CupsServer("10.0.0.2", 6310)


def test_the_users_client_conf_beats_the_systems(tmp_path: Path) -> None:
    _conf(tmp_path / "etc" / "client.conf", "system.example")
    env = {"CUPS_SERVERROOT": str(tmp_path / "etc")}
    assert find_server(env, home=tmp_path / "home") == CupsServer("system.example", 631)
    _conf(tmp_path / "home" / ".cups" / "client.conf", "/run/user/cups.sock")
    found = find_server(env, home=tmp_path / "home")
    assert found.socket_path == "/run/user/cups.sock" and found.http_host == "localhost"


def test_the_local_socket_then_localhost(tmp_path: Path) -> None:
    env = {"CUPS_SERVERROOT": str(tmp_path / "etc")}
    home = tmp_path / "home"
    found = find_server(env, home=home, exists=lambda p: p == "/var/run/cups/cups.sock")
    assert found == CupsServer("/var/run/cups/cups.sock")
    fallback = find_server({**env, "IPP_PORT": "8631"}, home=home, exists=lambda p: False)
    assert fallback == CupsServer("localhost", 8631, configured=False)


def test_server_names_parse_like_libcups() -> None:
    assert parse_server("print.example/version=1.1") == CupsServer("print.example")
    assert parse_server("[::1]:6310") == CupsServer("::1", 6310)
    assert parse_server("::1") == CupsServer("::1")
    assert parse_server("[::1]:6310").http_host == "[::1]"
