"""The tests' moto servers (tests/node/boot/moto_server.py): on Linux each one is forked from the
session's zygote, and must still be a server of its own, as one started alone was."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.node.boot.moto_server import MotoServer, session_owner

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the zygote is Linux-only (abstract socket)")


def parent_command(pid: int) -> list[str]:
    """The command line of the process that started `pid`."""
    parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return Path(f"/proc/{parent}/cmdline").read_bytes().decode().split("\0")[:-1]


def test_each_server_is_forked_by_the_sessions_zygote_logs_to_its_own_file_and_ends_on_exit(tmp_path: Path) -> None:
    with MotoServer(tmp_path / "moto.log") as server:
        assert server._forked is not None
        command = parent_command(server._forked[1])
        assert command[-2:] == ["--zygote", str(session_owner())], command
        server.client("ec2").describe_vpcs()
        host, port = server.endpoint.removeprefix("http://").split(":")
    assert '"POST / HTTP/1.1" 200' in (tmp_path / "moto.log").read_text(), "werkzeug's request log goes to the file"
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.settimeout(5)
        probe.connect((host, int(port)))


def test_servers_from_one_zygote_keep_their_own_state_and_iam_setting(tmp_path: Path) -> None:
    with MotoServer(tmp_path / "a.log") as first, MotoServer(tmp_path / "b.log") as second:
        assert first.endpoint != second.endpoint
        vpc = first.client("ec2").create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
        seen = {v["VpcId"] for v in second.client("ec2").describe_vpcs()["Vpcs"]}
        assert seen and vpc not in seen, "the second server has its own default VPC, and not the first one's VPC"

        first.enforce_iam()  # process-wide in moto: the other server must not enforce it
        with pytest.raises(ClientError, match="AuthFailure"):
            first.client("ec2").describe_vpcs()
        assert second.client("ec2").describe_vpcs()["Vpcs"]
