"""Debian's nginx running the shipped deploy/nginx/chit.conf in front of a test cluster.

The shipped file is used as it is, with only what a site must adjust rewritten: the upstream
servers, the listen addresses, the certificate paths and the trusted load balancer. The
certificate is self-signed for 127.0.0.1, made here with ``cryptography``; clients verify it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import re
import shutil
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.cluster.support import ROOT, HubProc, free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CONF = ROOT / "deploy" / "nginx" / "chit.conf"
#: The address the tests' "load balancer" connects from; nginx trusts its X-Forwarded-For.
TRUSTED_LB = "127.0.0.2"


def nginx_installed() -> bool:
    """Whether the nginx binary is here (scripts/setup-system.sh installs Debian's)."""
    return Path(NGINX).exists()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 and localhost, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chit-test")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass(frozen=True)
class Proxy:
    """A running nginx: its plain and TLS addresses and a client context trusting its cert."""

    http_url: str
    url: str
    ssl: ssl.SSLContext
    prefix: Path

    def session(self, source: str = "127.0.0.1", timeout: float = 15) -> aiohttp.ClientSession:
        """An HTTP client connecting from ``source`` (any 127.0.0.x works on loopback)."""
        connector = aiohttp.TCPConnector(ssl=self.ssl, local_addr=(source, 0))
        return aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
        )


def site(hubs: list[HubProc], http_port: int, https_port: int, cert: Path, key: Path) -> str:
    """The shipped file with this test's upstreams, ports, certificate and load balancer."""
    text = CONF.read_text()
    servers = "".join(f"    server 127.0.0.1:{hub.port};\n" for hub in hubs)
    text, count = re.subn(r"(    server 127\.0\.0\.1:\d+;\n)+", servers, text)
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
        "/etc/ssl/chit/fullchain.pem": str(cert),
        "/etc/ssl/chit/privkey.pem": str(key),
        "set_real_ip_from 192.0.2.1;": f"set_real_ip_from {TRUSTED_LB};",
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, f"chit.conf no longer has {old!r}"
        text = text.replace(old, new)
    assert count == 1, "chit.conf's upstream servers moved"
    return text


def main_config(site_text: str, prefix: Path) -> str:
    """A minimal nginx.conf around the site (as Debian's includes conf.d/ in http)."""
    temp = " ".join(
        f"{name}_temp_path {prefix}/{name};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"worker_processes 1;\nerror_log {prefix}/error.log warn;\npid {prefix}/nginx.pid;\n"
        f"user root;\nevents {{ worker_connections 512; }}\n"
        f"http {{ access_log off; {temp}\n{site_text}\n}}\n"
    )


@contextlib.asynccontextmanager
async def running_nginx(hubs: list[HubProc], workdir: Path) -> AsyncIterator[Proxy]:
    """nginx with the shipped site in front of ``hubs``, until the block ends."""
    prefix = workdir / "nginx"
    prefix.mkdir()
    cert, key = self_signed(prefix)
    http_port, https_port = free_port(), free_port()
    text = site(hubs, http_port, https_port, cert, key)
    (prefix / "nginx.conf").write_text(main_config(text, prefix))
    proc = await asyncio.create_subprocess_exec(
        NGINX,
        "-p",
        str(prefix),
        "-c",
        str(prefix / "nginx.conf"),
        "-g",
        "daemon off;",
        stderr=asyncio.subprocess.DEVNULL,
    )
    context = ssl.create_default_context(cafile=str(cert))
    proxy = Proxy(
        f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}", context, prefix
    )
    try:
        await _until_serving(proxy)
        yield proxy
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


async def _until_serving(proxy: Proxy, timeout: float = 15) -> None:
    async with proxy.session(timeout=2) as http, asyncio.timeout(timeout):
        while True:
            try:
                async with http.get(proxy.url + "/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
