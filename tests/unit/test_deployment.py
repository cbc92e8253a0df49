"""The production stack in docker/, checked statically: the compose file validates with a compose tool
(Debian's docker-compose, no engine needed for `config`), has what the deployment needs, carries no secret,
the Dockerfile lints clean (hadolint), and docs/deployment.md names every service and port."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from support import require

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
REQUIRED_ENV = {
    "POSTGRES_PASSWORD": "pw",
    "VB_DOMAIN": "vb.example.dk",
    "VB_SECRET_KEY": "k",
    "VB_TURN_SECRET": "t",
    "VB_AUDIT_KEY": "a1:s",
    "ACME_EMAIL": "it@example.dk",
    "VB_TURN_EXTERNAL_IP": "203.0.113.5",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(os.sys.executable).parent))
    require(found is not None, f"{name} (see .ci/run)")
    return found


def test_the_compose_file_validates_and_refuses_to_start_without_its_secrets():
    compose_tool = tool("docker-compose")
    ok = subprocess.run(
        [compose_tool, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        env={**os.environ, **REQUIRED_ENV},
        cwd=DOCKER,
    )
    assert ok.returncode == 0, ok.stderr
    for missing in REQUIRED_ENV:
        env = {
            **{k: v for k, v in os.environ.items() if k != missing},  # (the suite sets VB_AUDIT_KEY for itself)
            **{k: v for k, v in REQUIRED_ENV.items() if k != missing},
        }
        refused = subprocess.run(
            [compose_tool, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, env=env, cwd=DOCKER
        )
        assert refused.returncode != 0 and f"set {missing}" in refused.stderr, missing


def test_the_stack_has_two_app_replicas_a_tls_proxy_postgres_redis_coturn_and_a_migration_job(compose):
    services = compose["services"]
    assert set(services) == {"migrate", "app1", "app2", "proxy", "db", "redis", "turn"}
    for name in ("app1", "app2"):
        app = services[name]
        assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert app["depends_on"]["db"]["condition"] == "service_healthy"
        assert app["environment"]["VB_REDIS_URL"].startswith("redis://redis:")
        assert app["environment"]["VB_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert app["environment"]["VB_BASE_URL"].startswith("https://")
    assert services["migrate"]["command"][-1] == "migrate" and services["migrate"]["restart"] == "no"
    assert {"80:80", "443:443"} <= set(services["proxy"]["ports"])
    caddyfile = (DOCKER / "caddy" / "Caddyfile").read_text()
    assert "reverse_proxy app1:8080 app2:8080" in caddyfile and "health_uri /readyz" in caddyfile
    assert "respond @metrics 404" in caddyfile  # metrics never through the public address
    assert "3478:3478/udp" in services["turn"]["ports"] and "--use-auth-secret" in services["turn"]["command"]
    assert compose["networks"]["backend"]["internal"] is True  # database and Redis unreachable from outside


def test_coturn_denies_loopback_and_private_peers():
    """The file's shape; coturn itself checks it in tests/realtime/test_coturn_config.py."""
    conf = (DOCKER / "coturn" / "turnserver.conf").read_text()
    assert re.search(r"^use-auth-secret$", conf, re.M)
    assert not re.search(r"^(no-loopback-peers|allow-loopback-peers)", conf, re.M)  # unknown to coturn 4.6 / unsafe
    denied = set(re.findall(r"^denied-peer-ip=(\S+)", conf, re.M))
    for network in (
        "10.0.0.0-10.255.255.255",
        "172.16.0.0-172.31.255.255",
        "192.168.0.0-192.168.255.255",
        "127.0.0.0-127.255.255.255",
        "169.254.0.0-169.254.255.255",
        "::1",
        "::ffff:0.0.0.0-::ffff:255.255.255.255",
        "64:ff9b::-64:ff9b::ffff:ffff",
    ):
        assert network in denied
    assert not any(network.startswith("::-") for network in denied)  # coturn reads that as "deny every IPv4 peer"
    assert "static-auth-secret" not in conf  # the secret comes from the environment at run time


def test_the_relay_port_range_holds_the_quota_and_is_the_one_published(compose):
    conf = (DOCKER / "coturn" / "turnserver.conf").read_text()
    setting = {
        key: int(value) for key, value in re.findall(r"^(min-port|max-port|total-quota|user-quota)=(\d+)$", conf, re.M)
    }
    ports = setting["max-port"] - setting["min-port"] + 1
    assert ports >= setting["total-quota"], "every allocation holds one relay port"
    assert setting["user-quota"] >= 3 * 4  # a person in a four-person call: 3 peer connections x ~4 allocations
    relay = f"{setting['min-port']}-{setting['max-port']}"
    assert f"{relay}:{relay}/udp" in compose["services"]["turn"]["ports"]
    assert relay in (ROOT / "docs" / "deployment.md").read_text()


def test_no_secret_is_written_into_the_stack():
    text = COMPOSE.read_text() + (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^\s*POSTGRES_PASSWORD:", text, re.M)  # the check below does look at the keys
    for name in (
        "POSTGRES_PASSWORD",
        "VB_SECRET_KEY",
        "VB_AUDIT_KEY",
        "VB_TURN_SECRET",
        "VB_SMTP_PASSWORD",
        "VB_SMS_GATEWAY_TOKEN",
        "VB_METRICS_TOKEN",
    ):
        for value in re.findall(rf"^\s*{name}[:=]\s*(\S+)", text, re.M):
            assert value.startswith("${"), (name, value)
    assert "ENV VB_SECRET_KEY" not in text and "ARG" not in (DOCKER / "Dockerfile").read_text()


def test_the_dockerfile_lints_clean_and_runs_as_a_non_root_user():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^USER 10001", dockerfile, re.M) and "HEALTHCHECK" in dockerfile
    assert "python:3.11-slim" in dockerfile
    linted = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKER / "Dockerfile")], capture_output=True, text=True
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_deployment_guide_names_every_service_and_port(compose):
    guide = (ROOT / "docs" / "deployment.md").read_text()
    for service in compose["services"]:
        assert f"`{service}`" in guide, service
    for port in (
        "443",
        "3478",
        "49160-50359",
        "/readyz",
        "/metrics",
        "pg_dump",
        "vbostotte backup",
        "vbostotte retention",
        "SIGTERM",
    ):
        assert port in guide, port
