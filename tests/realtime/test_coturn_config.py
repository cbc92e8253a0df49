"""docker/coturn/turnserver.conf checked by coturn itself: a real turnserver started with the production file (and
only what a test needs on top: a free port on 127.0.0.1, relay addresses on loopback, the secret, no TLS
certificate) accepts every line of it, and refuses a permission (403 Forbidden IP) to every address a TURN
relay must never reach — in IPv4 and in every IPv6 spelling of an IPv4 address — while a public address gets one.

The TURN client is aioice's (STUN encoding, the 401 realm/nonce challenge, MESSAGE-INTEGRITY and FINGERPRINT);
the credentials are the app's TURN REST ones (``signaling.ice.turn_credentials``). A CreatePermission sends
no traffic to the peer: it only installs (or refuses) the permission, so the public control address is safe."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from aioice import stun, turn

from signaling.ice import turn_credentials

from support import free_port, require

CONF = Path(__file__).resolve().parents[2] / "docker" / "coturn" / "turnserver.conf"
SECRET = "coturn-config-test-secret"
REALM = "vbostotte.test"
REQUESTED_ADDRESS_FAMILY = (0x0017, "REQUESTED-ADDRESS-FAMILY", stun.pack_unsigned, stun.unpack_unsigned)  # RFC 6156
IPV6_FAMILY = 0x02000000

# IPv4 networks that are not the public internet (IANA special-purpose registry): the host itself, private and
# carrier-grade NAT networks, link-local (cloud metadata at 169.254.169.254), protocol assignments, documentation
# and benchmarking networks (a hosting network may use them), multicast and the reserved rest.
DENIED_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
WELL_KNOWN_V4 = ["127.0.0.1", "10.0.0.1", "169.254.169.254", "100.100.100.200", "255.255.255.255"]
# IPv6 networks that are not the public internet, written natively.
DENIED_V6 = [
    "::",
    "::1",
    "fc00::1",
    "fd00::2",
    "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fe80::1",
    "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fec0::1",
    "ff02::1",
    "ff0e::1",
    "100::1",
    "2001:db8::1",
]
# The control that a permission can be granted: public resolvers, and public addresses just outside each denied
# network (a range written too wide would refuse them: coturn's own range reading once made "::-::ffff:ffff"
# deny every IPv4 address).
ALLOWED_V4 = [
    "8.8.8.8",
    "1.0.0.1",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "169.253.255.255",
    "169.255.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.0",
    "192.167.255.255",
    "192.169.0.0",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
]
ALLOWED_V6 = ["2001:4860:4860::8888", "2a00:1450:4001:80b::200e", "2001:4860::1", "2003::1", "2001:db9::1", "2600::1"]


def ipv4_samples() -> list[str]:
    """The first, second and last address of each denied IPv4 network, and the well-known targets."""
    samples = []
    for network in map(ipaddress.IPv4Network, DENIED_V4):
        samples += [str(network[0]), str(network[1]), str(network[-1])]
    return sorted(set(samples + WELL_KNOWN_V4), key=ipaddress.IPv4Address)


def ipv6_spellings(v4: str) -> list[str]:
    """Every IPv6 form that leads to the IPv4 address ``v4``: IPv4-mapped (::ffff:a.b.c.d, what a dual-stack
    relay socket sends as IPv4), IPv4-compatible (::a.b.c.d), NAT64 with the well-known prefix (64:ff9b::/96) and
    a local-use prefix (64:ff9b:1::/48), 6to4 (2002:aabb:ccdd::/48) and Teredo (the client address inverted)."""
    n = int(ipaddress.IPv4Address(v4))
    forms = [
        (0xFFFF << 32) | n,
        n,
        int(ipaddress.IPv6Address("64:ff9b::")) | n,
        int(ipaddress.IPv6Address("64:ff9b:1::")) | n,
        (0x2002 << 112) | (n << 80) | 1,
        int(ipaddress.IPv6Address("2001:0:4136:e378:8000:63bf::")) | (n ^ 0xFFFFFFFF),
    ]
    return [str(ipaddress.IPv6Address(form)) for form in forms]


def forbidden() -> tuple[list[str], list[str]]:
    v4 = ipv4_samples()
    v6 = DENIED_V6 + [form for address in v4 for form in ipv6_spellings(address)]
    return v4, v6


class TurnClient:
    """One TURN allocation over UDP (aioice's client protocol), and CreatePermission requests on it."""

    def __init__(self, transport, protocol: turn.TurnClientUdpProtocol) -> None:
        self.transport, self.protocol = transport, protocol

    @classmethod
    async def allocate(cls, port: int, *, ipv6: bool = False) -> tuple[TurnClient, tuple[str, int]]:
        username, password = turn_credentials(SECRET, "coturn-config-test", 600)
        transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: turn.TurnClientUdpProtocol(("127.0.0.1", port), username, password, 600, 500),
            remote_addr=("127.0.0.1", port),
        )
        request = stun.Message(stun.Method.ALLOCATE, stun.Class.REQUEST)
        request.attributes["LIFETIME"] = 600
        request.attributes["REQUESTED-TRANSPORT"] = turn.UDP_TRANSPORT
        if ipv6:
            request.attributes["REQUESTED-ADDRESS-FAMILY"] = IPV6_FAMILY
        try:
            response, _ = await protocol.request_with_retry(request)  # 401 (realm, nonce) → signed retry
        except BaseException:
            transport.close()
            raise
        return cls(transport, protocol), response.attributes["XOR-RELAYED-ADDRESS"]

    async def permit(self, peer: str) -> int | None:
        """CreatePermission for ``peer``: None when granted, else the error code."""
        request = stun.Message(stun.Method.CREATE_PERMISSION, stun.Class.REQUEST)
        request.attributes["XOR-PEER-ADDRESS"] = (peer, 0)
        try:
            await self.protocol.request_with_retry(request)
        except stun.TransactionFailed as exc:
            return exc.response.error_code
        return None

    def close(self) -> None:
        self.transport.close()


@pytest.fixture
def requested_address_family(monkeypatch):
    """aioice encodes STUN attributes from one table; REQUESTED-ADDRESS-FAMILY (for an IPv6 relay) is added to it."""
    monkeypatch.setitem(stun.ATTRIBUTES_BY_NAME, REQUESTED_ADDRESS_FAMILY[1], REQUESTED_ADDRESS_FAMILY)
    monkeypatch.setitem(stun.ATTRIBUTES_BY_TYPE, REQUESTED_ADDRESS_FAMILY[0], REQUESTED_ADDRESS_FAMILY)


@pytest.fixture
async def coturn(tmp_path, requested_address_family):
    """turnserver with a copy of the production file; the test's own settings only on the command line, as
    docker/compose.yaml gives the production ones. Yields the port and the log file."""
    binary = shutil.which("turnserver")
    require(binary is not None, "coturn (turnserver)")
    conf = tmp_path / "turnserver.conf"
    conf.write_text(CONF.read_text())
    log = tmp_path / "turnserver.log"
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            [
                binary,
                "-c",
                str(conf),
                "--use-auth-secret",
                f"--static-auth-secret={SECRET}",
                f"--realm={REALM}",
                "--listening-ip=127.0.0.1",
                f"--listening-port={port}",
                "--relay-ip=127.0.0.1",
                "--relay-ip=::1",
                "--no-tls",
                "--no-dtls",  # no certificate in the test
                f"--pidfile={tmp_path / 'turnserver.pid'}",
                "--db",
                str(tmp_path / "turndb"),
            ],  # not /var: unprivileged
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield port, log
    finally:
        server.terminate()
        server.wait(timeout=10)


def startup_problems(log_text: str) -> list[str]:
    """Lines where coturn complains about its configuration (not the refusals the test asks for)."""
    return [
        line
        for line in log_text.splitlines()
        if re.search(r"bad configuration|unknown option|error", line, re.I)
        and not re.search(r"A peer IP \S+ denied", line)
    ]


async def test_coturn_accepts_the_production_file_and_refuses_every_forbidden_peer(coturn):
    port, log = coturn
    v4_client, v4_relay = await TurnClient.allocate(port)
    v6_client, v6_relay = await TurnClient.allocate(port, ipv6=True)
    try:
        assert v4_relay[0] == "127.0.0.1" and v6_relay[0] == "::1"
        # The control: public addresses get their permission, in either family.
        granted = {peer: await v4_client.permit(peer) for peer in ALLOWED_V4}
        granted |= {peer: await v6_client.permit(peer) for peer in ALLOWED_V6}
        assert all(code is None for code in granted.values()), granted
        v4, v6 = forbidden()
        answers = {peer: await v4_client.permit(peer) for peer in v4}
        answers |= {peer: await v6_client.permit(peer) for peer in v6}
    finally:
        v4_client.close()
        v6_client.close()
    let_through = {peer: code for peer, code in answers.items() if code != 403}
    print(f"forbidden peers refused with 403: {len(answers) - len(let_through)} of {len(answers)}")
    assert not let_through, (
        f"{len(let_through)} of {len(answers)} forbidden peers not refused, e.g. {dict(list(let_through.items())[:12])}"
    )

    text = log.read_text()
    assert startup_problems(text) == []
    denied = re.findall(r"^denied-peer-ip=(\S+)", CONF.read_text(), re.M)
    assert set(denied) <= set(re.findall(r"Black listing: (\S+)", text))  # coturn read every range
    assert "Coturn-4." in text  # the log was captured (the checks above read something)
