"""`status` on a spoke (analyzer nativeSpoke, issue 23) against moto: its own enrolment (sessions to the
hub's target), and the route from each mirrored subnet to each of the hub NLB's addresses, longest
prefix first, naming its target; no load balancer, group or traffic checks (those are the hub's)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.node.boot.moto_server import MotoServer
from tests.status.conftest import StatusRunner
from wallarm_mirror.status.aws import Route, SubnetRoutes
from wallarm_mirror.status.checks import check_routes
from wallarm_mirror.status.outputs import StackOutputs

REGION = "eu-west-1"
# Second octets of their own, apart from moto_stack.py's (10.<n>.x.x from 1 up): the server is shared.
_numbers = itertools.count(200)


@dataclass(frozen=True)
class Spoke:
    """A spoke's resources in moto, and its outputs but the hub NLB's addresses (which moto never sees:
    each test names its own)."""

    number: int
    outputs: dict[str, Any]
    made: dict[str, str]

    def outputs_file(self, tmp_path: Path, addresses: dict[str, str]) -> Path:
        path = tmp_path / f"spoke-{self.number}.json"
        path.write_text(json.dumps({**self.outputs, "hub_nlb_zone_addresses": addresses}))
        return path


def spoke(moto: MotoServer, tmp_path: Path, addresses: dict[str, str], *, route: str = "tgw") -> tuple[Path, dict]:
    """A spoke built for one test: its outputs file (with these hub addresses) and what was made."""
    built = build_spoke(moto, route)
    return built.outputs_file(tmp_path, addresses), built.made


@pytest.fixture(scope="session")
def spokes(moto: MotoServer) -> dict[str, Spoke]:
    """The spokes of each route layout, built on first use once per test process: tests only read them."""

    class Built(dict[str, Spoke]):
        def __missing__(self, route: str) -> Spoke:
            self[route] = build_spoke(moto, route)
            return self[route]

    return Built()


def build_spoke(moto: MotoServer, route: str = "tgw") -> Spoke:
    """A spoke as `pulumi up` leaves it: a mirrored subnet whose route table sends 10.250.0.0/20 (the hub's
    NLB subnets) to a transit gateway beside a default route to the internet ("tgw"), or only sends
    that to the internet ("igw"), or nothing ("none"); one session to the hub's target."""
    number = next(_numbers)
    ec2 = moto.client("ec2")
    vpc = ec2.create_vpc(CidrBlock=f"10.{number}.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{number}.1.0/24", AvailabilityZone=f"{REGION}a")
    subnet_id = subnet["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet_id)
    via: dict[str, Any] = {}
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    if route == "tgw":
        via = {"TransitGatewayId": ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]}
        # The usual default route too: the longer prefix to the transit gateway must win over it.
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    elif route == "igw":
        via = {"GatewayId": gateway}
    if via:
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="10.250.0.0/20", **via)
    # The hub's target (in moto, in the same account) and the spoke's session to it.
    hub_eni = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
    target = ec2.create_traffic_mirror_target(NetworkInterfaceId=hub_eni)["TrafficMirrorTarget"][
        "TrafficMirrorTargetId"
    ]
    web = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
    mirror_filter = ec2.create_traffic_mirror_filter()["TrafficMirrorFilter"]["TrafficMirrorFilterId"]
    session = ec2.create_traffic_mirror_session(
        NetworkInterfaceId=web, TrafficMirrorTargetId=target, TrafficMirrorFilterId=mirror_filter, SessionNumber=1
    )["TrafficMirrorSession"]["TrafficMirrorSessionId"]
    outputs = {
        "hub_traffic_mirror_target_id": target,
        "hub_traffic_mirror_target_arn": f"arn:aws:ec2:{REGION}:111111111111:traffic-mirror-target/{target}",
        "hub_nlb_dns_name": "hub-nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com",
        "traffic_mirror_vni": 4242,
        "mirror_source_cidrs": [f"10.{number}.1.0/24"],
        "traffic_mirror_filter_id": mirror_filter,
        "traffic_mirror_session_ids": [session],
    }
    return Spoke(number, outputs, {"subnet": subnet_id, "table": table, "target": target, **via})


def test_a_spoke_with_its_session_and_a_route_to_the_hub_exits_0(
    spokes: dict[str, Spoke], status: StatusRunner, tmp_path: Path
) -> None:
    path, made = spokes["tgw"].outputs_file(tmp_path, {"euw1-az1": "10.250.1.10"}), spokes["tgw"].made
    run = status(outputs_file=path, name="spoke-a")
    assert run.code == 0, run.out
    assert run.out.splitlines()[0] == "wallarm-mirror status: stack spoke-a, nativeSpoke, eu-west-1"
    assert "1 AWS traffic mirror session(s) send to the hub's target" in run.line("sources", made["target"])
    route = run.line("route", f"{made['subnet']}->10.250.1.10")
    assert route.startswith("ok")
    assert f"hub NLB in euw1-az1 via {made['TransitGatewayId']} (10.250.0.0/20 in {made['table']})" in route
    # A spoke has no load balancer, group, node or traffic of its own: status on the hub reports those.
    assert not [line for line in run.out.splitlines() if line.split()[1:2] in (["asg"], ["target"], ["traffic"])]


def test_a_hub_address_no_route_covers_fails_with_the_next_step(
    spokes: dict[str, Spoke], status: StatusRunner, tmp_path: Path
) -> None:
    addresses = {"euw1-az1": "10.250.1.10", "euw1-az2": "10.251.1.10"}
    path, made = spokes["tgw"].outputs_file(tmp_path, addresses), spokes["tgw"].made
    run = status(outputs_file=path, name="spoke-b")
    assert run.code == 1, run.out
    assert run.line("route", f"{made['subnet']}->10.250.1.10").startswith("ok")
    # 10.251.1.10 is outside the route to the transit gateway: only the default route covers it.
    missing = run.line("route", f"{made['subnet']}->10.251.1.10")
    assert missing.startswith("fail")
    assert "hub NLB in euw1-az2: goes via igw-" in missing and "(0.0.0.0/0 in " in missing
    assert "add a route for the hub's NLB subnets in " + made["table"] in missing


def test_a_subnet_with_no_route_to_the_hub_fails(
    spokes: dict[str, Spoke], status: StatusRunner, tmp_path: Path
) -> None:
    path, made = spokes["none"].outputs_file(tmp_path, {"euw1-az1": "10.250.1.10"}), spokes["none"].made
    run = status(outputs_file=path, name="spoke-f")
    line = run.line("route", f"{made['subnet']}->10.250.1.10")
    assert line.startswith("fail")
    assert f"no route in {made['table']} covers the hub NLB's address in euw1-az1" in line


def test_a_route_to_the_internet_does_not_reach_the_hub(
    spokes: dict[str, Spoke], status: StatusRunner, tmp_path: Path
) -> None:
    path, made = spokes["igw"].outputs_file(tmp_path, {"euw1-az1": "10.250.1.10"}), spokes["igw"].made
    run = status(outputs_file=path, name="spoke-c")
    line = run.line("route", f"{made['subnet']}->10.250.1.10")
    assert line.startswith("fail") and f"goes via {made['GatewayId']}" in line and "does not reach another VPC" in line
    assert run.code == 1


def test_a_spoke_without_the_hubs_addresses_warns(
    spokes: dict[str, Spoke], status: StatusRunner, tmp_path: Path
) -> None:
    path = spokes["tgw"].outputs_file(tmp_path, {})
    run = status(outputs_file=path, name="spoke-d")
    [line] = [line for line in run.out.splitlines() if line.split()[1:2] == ["route"]]
    assert line.startswith("warn") and "no hub_nlb_zone_addresses" in line


def test_broken_spoke_outputs_exit_2_naming_each_key(status: StatusRunner, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    document = {
        "hub_traffic_mirror_target_id": "tmt-1",
        "hub_traffic_mirror_target_arn": "arn:x",
        "mirror_source_cidrs": [],
    }
    path.write_text(json.dumps(document))
    run = status(outputs_file=path, name="spoke-e")
    assert run.code == 2
    assert run.err == (
        f'error: the outputs file {path} (nativeSpoke outputs): hub_traffic_mirror_target_arn is "arn:x", not a '
        "traffic mirror target's ARN; mirror_source_cidrs is [], not a list of CIDRs\n"
    )


def test_a_blackhole_route_fails_naming_its_state() -> None:
    # moto keeps routes active; a blackhole (the transit gateway attachment gone) is built by hand.
    outputs = StackOutputs(
        analyser="nativeSpoke",
        load_balancer_arn="",
        target_group_arn="",
        asg_name="",
        region=REGION,
        source_cidrs=("10.20.1.0/24",),
        hub_addresses=(("euw1-az1", "10.250.1.10"),),
    )
    routes = (Route("10.250.0.0/20", "tgw-0123456789abcdef0", "blackhole"), Route("10.20.0.0/16", "local", "active"))
    [result] = check_routes((SubnetRoutes("subnet-1", "10.20.1.0/24", "rtb-1", routes),), outputs)
    assert (result.status.value, result.subject) == ("fail", "subnet-1->10.250.1.10")
    assert (
        result.evidence
        == "hub NLB in euw1-az1: the route via tgw-0123456789abcdef0 (10.250.0.0/20 in rtb-1) is blackhole"
    )
