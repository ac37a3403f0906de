"""The Linux package's files, checked without building it: the udev rule is current, the unit
runs its supervisor as its own user with the hardening it promises, the shell scripts parse,
and the packaging script (on a fake build) lays out what the self-updater expects."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent import udev_rules
from agent.updates.client import this_platform
from agent.updates.layout import Layout
from agent.usb_ids import USB_VENDORS
from hub.cli_release import ARCHIVE_NAME
from tests.installers.debroot import env_file, unit_settings

DEB = Path(__file__).resolve().parents[2] / "installers" / "linux" / "deb"


def test_the_udev_rule_is_current() -> None:
    shipped = (DEB / udev_rules.FILE_NAME).read_text()
    assert shipped == udev_rules.rules(), "run: python -m agent.udev_rules > " + str(
        DEB / udev_rules.FILE_NAME
    )


def test_the_udev_rule_covers_class_7_and_every_pos_brand() -> None:
    text = udev_rules.rules()
    assert 'ENV{ID_USB_INTERFACES}=="*:07????:*", MODE="0660", GROUP="lp"' in text
    for vendor_id, known in USB_VENDORS.items():
        line = f'ATTR{{idVendor}}=="{vendor_id:04x}"'
        # Generic chips share their ids with unrelated devices: class 7 only for them.
        assert (line in text) is known.pos_brand, known.name


def test_the_unit_runs_as_its_user_with_hardening_that_keeps_usb_and_the_network() -> None:
    unit = unit_settings((DEB / "chit-agent.service").read_text())
    assert unit["User"] == ["chit-agent"] and unit["SupplementaryGroups"] == ["lp"]
    assert unit["Restart"] == ["always"]
    # The supervisor (outside versions/, never replaced by a self-update) starts current's agent.
    assert unit["ExecStart"] == [
        "/opt/chit-agent/bin/chit-agent-supervisor --install-root /opt/chit-agent -- run --headless"
    ]
    assert unit["SuccessExitStatus"] == ["75"]  # the restart into a new version
    assert unit["StateDirectory"] == ["chit-agent"] and unit["LogsDirectory"] == ["chit-agent"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "ProtectKernelModules"):
        assert unit[key] == ["yes"], key
    assert unit["ProtectSystem"] == ["strict"]
    assert "PrivateDevices" not in unit and "PrivateNetwork" not in unit
    assert set(unit["DeviceAllow"]) == {"char-usb_device rw", "char-usb rw"}
    families = unit["RestrictAddressFamilies"][0].split()
    assert {"AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"} <= set(families)
    # Under ProtectSystem=strict the agent still installs versions and keeps update/; what it
    # must never change stays read-only.
    assert unit["ReadWritePaths"] == ["/opt/chit-agent"]
    read_only = unit["ReadOnlyPaths"][0].split()
    assert {"/opt/chit-agent/bin", "-/opt/chit-agent/trusted-root.json"} <= set(read_only)


def test_the_wrapper_runs_the_current_version() -> None:
    assert "BIN=/opt/chit-agent/current/chit-agent\n" in (DEB / "chit-agent").read_text()


def test_the_service_keeps_its_files_where_the_package_expects_them() -> None:
    env = env_file((DEB / "system.env").read_text())
    assert env == {
        "CHIT_AGENT_CONFIG_DIR": "/var/lib/chit-agent",
        "CHIT_AGENT_DATA_DIR": "/var/lib/chit-agent",
        "CHIT_AGENT_LOG_DIR": "/var/log/chit-agent",
    }


@pytest.mark.parametrize("script", ["postinst", "prerm", "postrm", "chit-agent"])
def test_the_shell_scripts_parse_with_dash(script: str) -> None:
    shell = shutil.which("dash") or shutil.which("sh")
    assert shell is not None
    done = subprocess.run(
        [shell, "-n", str(DEB / script)], capture_output=True, text=True, timeout=10
    )
    assert done.returncode == 0, done.stderr
    assert (DEB / script).stat().st_mode & 0o111, f"{script} is not executable"


def test_packaging_without_a_frozen_build_says_what_to_run(tmp_path: Path) -> None:
    script = DEB.parents[2] / "scripts" / "build-agent-package.sh"
    done = subprocess.run(
        ["bash", str(script), "deb", "--frozen", str(tmp_path / "none"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 1 and "run scripts/build-agent.sh first" in done.stderr
    wrong = subprocess.run(["bash", str(script), "rpm"], capture_output=True, text=True, timeout=30)
    assert wrong.returncode == 2 and "usage" in wrong.stderr


def _fake_build(dist: Path, version: str) -> Path:
    """A folder shaped like scripts/build-agent.sh's output (a script for the program)."""
    frozen = dist / "chit-agent"
    (frozen / "_internal").mkdir(parents=True)
    (frozen / "_internal" / "chit-agent-version.txt").write_text(version + "\n")
    (frozen / "chit-agent").write_text("#!/bin/sh\necho fake\n")
    (frozen / "chit-agent").chmod(0o755)
    return frozen


def _package(*args: str | Path) -> subprocess.CompletedProcess[str]:
    script = DEB.parents[2] / "scripts" / "build-agent-package.sh"
    return subprocess.run(
        ["bash", str(script), *map(str, args)],
        env={**os.environ, "CHIT_DEB_COMPRESSION": "gzip", "CHIT_DEB_LEVEL": "1"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_update_archive_is_what_the_layout_installs(tmp_path: Path) -> None:
    frozen = _fake_build(tmp_path / "dist", "1.4.0")
    done = _package("tar", "--frozen", frozen, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    archive = Path(done.stdout.strip())
    found = ARCHIVE_NAME.match(archive.name)  # as chit-hub agent-release add reads it
    assert found is not None and found["version"] == "1.4.0"
    assert found["platform"] == this_platform()
    layout = Layout(tmp_path / "opt")
    layout.install(archive, "1.4.0")
    assert (layout.versions / "1.4.0" / "chit-agent").read_text() == "#!/bin/sh\necho fake\n"


def test_the_deb_needs_its_supervisor_and_a_real_trusted_root(tmp_path: Path) -> None:
    frozen = _fake_build(tmp_path / "dist", "1.4.0")
    out = tmp_path / "out"
    missing = _package("deb", "--frozen", frozen, "--out", out)
    assert missing.returncode == 1 and "no frozen supervisor" in missing.stderr
    supervisor = tmp_path / "dist" / "chit-agent-supervisor"
    supervisor.mkdir()
    (supervisor / "chit-agent-supervisor").write_text("#!/bin/sh\n")
    (supervisor / "chit-agent-supervisor").chmod(0o755)
    (tmp_path / "root.json").write_text('{"signed": {"_type": "targets"}}')
    wrong = _package(
        "deb", "--frozen", frozen, "--out", out, "--trusted-root", tmp_path / "root.json"
    )
    assert wrong.returncode == 1 and "is not TUF root metadata" in wrong.stderr
    if shutil.which("dpkg-deb") is None:
        return
    untrusted = _package("deb", "--frozen", frozen, "--out", out)
    assert untrusted.returncode == 0, untrusted.stderr
    assert "will not update itself" in untrusted.stderr
    listing = subprocess.run(
        ["dpkg-deb", "--contents", untrusted.stdout.strip()],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    assert "./opt/chit-agent/versions/1.4.0/chit-agent\n" in listing
    assert "./opt/chit-agent/bin/chit-agent-supervisor\n" in listing
    assert "trusted-root.json" not in listing and " ./opt/chit-agent/chit-agent\n" not in listing
