"""The tests' moto servers and clients (tests/node/boot/moto_server.py): on Linux each server is
forked from the session's zygote, and must still be a server of its own, as one started alone was;
client classes are built once, and must still carry what a session's own handlers add."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.node.boot.moto_server import MotoServer, loading_session, session_owner

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="the zygote is Linux-only (abstract socket)")


def parent_command(pid: int) -> list[str]:
    """The command line of the process that started `pid`."""
    parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return Path(f"/proc/{parent}/cmdline").read_bytes().decode().split("\0")[:-1]


@linux_only
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


@linux_only
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


def ec2_client(session: boto3.session.Session) -> Any:
    return session.client("ec2", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")


def test_a_client_class_is_shared_only_by_sessions_whose_handlers_build_it_alike() -> None:
    plain = ec2_client(boto3.session.Session())
    loading = ec2_client(boto3.session.Session(botocore_session=loading_session()))
    assert type(plain) is type(loading), "botocore's own handlers, registered or copied: one class"
    assert hasattr(plain, "generate_presigned_url"), "what botocore's handlers add is there"

    hooked = boto3.session.Session()
    hooked.events.register(
        "creating-client-class.ec2", lambda class_attributes, **_: class_attributes.update(marked=True)
    )
    marked = ec2_client(hooked)
    assert type(marked) is not type(plain) and getattr(marked, "marked", False) is True
    assert not hasattr(ec2_client(boto3.session.Session()), "marked"), "a session's handler stays its own"
