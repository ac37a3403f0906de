"""Token settings: the JWKS URL, leeway, role and claim maps from TOML, environment and flags."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hub.auth import load_keys
from hub.settings import Settings, load_settings
from shared.tokens import Role

TOML = """
[hub]
jwks_url = "https://platform.example/.well-known/jwks.json"
jwt_leeway_seconds = 10
jwks_refetch_seconds = 60

[hub.role_map]
desktop_app = "desktop_app"
branch_manager = "manager"
cashier = "staff"

[hub.claim_map]
companyId = "tenant_id"
branchId = "location_id"
role = "userRole"
"""


def test_defaults_keep_todays_behaviour() -> None:
    settings = load_settings({}, environ={})
    assert settings.jwt_leeway_seconds == 30
    assert settings.jwks_url is None and settings.role_map == {} and settings.claim_map == {}
    assert (settings.jwks_refetch_seconds, settings.jwks_refresh_seconds) == (30.0, 600.0)
    assert settings.jwks_timeout_seconds == 5.0


def test_tables_from_toml(tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text(TOML)
    settings = load_settings({}, environ={}, config_file=tmp_path / "hub.toml")
    assert settings.jwks_url == "https://platform.example/.well-known/jwks.json"
    assert settings.jwt_leeway_seconds == 10 and settings.jwks_refetch_seconds == 60.0
    assert settings.role_map == {
        "desktop_app": Role.DESKTOP_APP,
        "branch_manager": Role.MANAGER,
        "cashier": Role.STAFF,
    }
    assert settings.claim_map == {
        "companyId": "tenant_id",
        "branchId": "location_id",
        "role": "userRole",
    }


def test_environment_json_overrides_toml_and_flags_override_both(tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text(TOML)
    env = {
        "CHIT_HUB_ROLE_MAP": json.dumps({"waiter": "staff"}),
        "CHIT_HUB_CLAIM_MAP": '{"companyId": "org"}',
        "CHIT_HUB_JWKS_URL": "http://127.0.0.1:8080/jwks",
        "CHIT_HUB_JWT_LEEWAY_SECONDS": "0",
    }
    settings = load_settings({}, environ=env, config_file=tmp_path / "hub.toml")
    assert settings.role_map == {"waiter": Role.STAFF}
    assert settings.claim_map == {"companyId": "org"}
    assert settings.jwks_url == "http://127.0.0.1:8080/jwks" and settings.jwt_leeway_seconds == 0
    flagged = load_settings({"jwks_url": "https://other.example/jwks"}, environ=env)
    assert flagged.jwks_url == "https://other.example/jwks"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CHIT_HUB_ROLE_MAP": "cashier=staff"}, "role_map: expected a JSON object"),
        ({"CHIT_HUB_ROLE_MAP": '{"cashier": "clerk"}'}, "'cashier' maps to 'clerk'"),
        ({"CHIT_HUB_ROLE_MAP": '{"cashier": 1}'}, "role_map: expected a table"),
        ({"CHIT_HUB_CLAIM_MAP": '{"tenant": "tenant_id"}'}, "'tenant' is not a claim"),
        ({"CHIT_HUB_JWKS_URL": "ftp://platform.example/jwks"}, "http(s)://"),
        ({"CHIT_HUB_JWKS_URL": "platform.example/jwks"}, "http(s)://"),
        ({"CHIT_HUB_JWT_LEEWAY_SECONDS": "-1"}, "jwt_leeway_seconds: must be at least 0"),
        ({"CHIT_HUB_JWKS_TIMEOUT_SECONDS": "0"}, "jwks_timeout_seconds: must be at least"),
    ],
)
def test_bad_token_settings_are_refused_clearly(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        load_settings({}, environ=env)


def test_keys_carry_the_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        jwt_secret="s" * 40,
        jwt_leeway_seconds=3,
        jwks_url="http://127.0.0.1:1/jwks",
        role_map={"cashier": "staff"},
        claim_map={"companyId": "tenant_id"},
    )
    keys = load_keys(settings)
    assert keys.leeway == 3 and keys.jwks is not None and len(keys.jwks) == 0
    assert keys.role_map == {"cashier": Role.STAFF} and keys.claim_map == {"companyId": "tenant_id"}
    assert load_keys(Settings(data_dir=tmp_path, jwt_secret="s" * 40)).jwks is None


def test_a_bad_pem_file_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "platform.pem"
    bad.write_text("not a key")
    with pytest.raises(ValueError, match=re.escape("platform.pem: not a PEM public key")):
        load_keys(Settings(data_dir=tmp_path, jwt_secret="s" * 40, public_key_files=(bad,)))


def test_the_documented_toml_example_loads(tmp_path: Path) -> None:
    """docs/operations.md's "Platform keys and roles" example is a working configuration."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    section = docs.split("### Platform keys and roles", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "hub.toml").write_text(example)
    settings = load_settings({}, environ={}, config_file=tmp_path / "hub.toml")
    assert settings.jwks_url and settings.role_map["cashier"] is Role.STAFF
    assert settings.role_map["ops"] is Role.OPERATOR
    assert settings.claim_map["companyId"] == "tenant_id"
