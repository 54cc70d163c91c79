"""The test process's shared moto server (127.0.0.1, tests/conftest.py) for the enrolment tests, and
a fresh little estate per test.

The server is shared and never reset (a reset costs ~0.5 s, and other modules use it): each test
gets its own source tag value and managed-by tag value, so another test's instances are not sources
here and another test's sessions are, to the function under test, sessions of some other stack.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.node.boot.moto_server import MotoServer
from wallarm_mirror.traffic_mirror.enrolment import Settings

IMAGE_ID = "ami-0123456789abcdef0"
NLB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/wallarm/0123456789abcdef"


@pytest.fixture(scope="session")
def moto_server(shared_moto: MotoServer) -> MotoServer:
    return shared_moto


@dataclass
class Estate:
    """A VPC with a target, a filter, and helpers to launch instances and read sessions."""

    ec2: Any
    subnet_id: str
    image_id: str
    settings: Settings

    def launch(self, tags: dict[str, str] | None = None, instance_type: str = "m5.large") -> tuple[str, str]:
        """Start one instance; returns (instance id, primary ENI id)."""
        spec: dict[str, Any] = {}
        if tags:
            spec["TagSpecifications"] = [
                {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ]
        instance = self.ec2.run_instances(
            ImageId=self.image_id, MinCount=1, MaxCount=1, InstanceType=instance_type, SubnetId=self.subnet_id, **spec
        )["Instances"][0]
        eni = next(n for n in instance["NetworkInterfaces"] if n["Attachment"]["DeviceIndex"] == 0)
        return instance["InstanceId"], eni["NetworkInterfaceId"]

    def source(self, instance_type: str = "m5.large") -> tuple[str, str]:
        """An instance carrying all the source tags."""
        return self.launch(dict(self.settings.source_tags), instance_type)

    def sessions(self, eni: str | None = None) -> list[dict[str, Any]]:
        filters = [{"Name": "network-interface-id", "Values": [eni]}] if eni else []
        return self.ec2.describe_traffic_mirror_sessions(Filters=filters)["TrafficMirrorSessions"]

    def session(
        self, eni: str, tags: dict[str, str], number: int | None = None, vni: int | None = None, client: Any = None
    ) -> str:
        """A session made by someone (tags decide whose), with the estate's target and filter."""
        settings = self.settings
        return (client or self.ec2).create_traffic_mirror_session(
            NetworkInterfaceId=eni,
            TrafficMirrorTargetId=settings.target_id,
            TrafficMirrorFilterId=settings.filter_id,
            SessionNumber=number or settings.session_number,
            VirtualNetworkId=settings.vni if vni is None else vni,
            TagSpecifications=[
                {"ResourceType": "traffic-mirror-session", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            ],
        )["TrafficMirrorSession"]["TrafficMirrorSessionId"]

    @property
    def managed(self) -> dict[str, str]:
        return {self.settings.managed_tag_key: self.settings.managed_tag_value}

    def fail_creates_for(
        self, enis: set[str], code: str, message: str, before: Callable[[], object] | None = None
    ) -> None:
        """AWS's error for CreateTrafficMirrorSession on these ENIs; every other call still goes to moto.

        moto has all the calls this function makes but none of AWS's refusals, so the refusal is
        injected with a botocore before-call hook (the mechanism botocore's Stubber is built on),
        for this one operation and these ENIs only.
        """
        from botocore.awsrequest import AWSResponse, HTTPHeaders

        def refuse(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            if params.get("body", {}).get("NetworkInterfaceId") not in enis:
                return None
            if before is not None:
                before()
            parsed = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
            return AWSResponse("http://127.0.0.1/", 400, HTTPHeaders(), None), parsed

        self.ec2.meta.events.register("before-call.ec2.CreateTrafficMirrorSession", refuse)


@dataclass(frozen=True)
class Network:
    """What every test shares: a subnet, the target and the filter (sessions tell tests apart by tag)."""

    subnet_id: str
    target_id: str
    filter_id: str


@pytest.fixture(scope="session")
def network(moto_server: MotoServer) -> Network:
    ec2 = moto_server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]  # ~0.5 s: moto loads its EC2 backend
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/20")["Subnet"]["SubnetId"]
    target = ec2.create_traffic_mirror_target(NetworkLoadBalancerArn=NLB_ARN)["TrafficMirrorTarget"]
    mirror_filter = ec2.create_traffic_mirror_filter(Description="wallarm")["TrafficMirrorFilter"]
    return Network(subnet, target["TrafficMirrorTargetId"], mirror_filter["TrafficMirrorFilterId"])


@pytest.fixture
def estate(moto_server: MotoServer, network: Network) -> Estate:
    run = uuid.uuid4().hex[:8]
    settings = Settings(
        target_id=network.target_id,
        filter_id=network.filter_id,
        vni=4242,
        session_number=7,
        source_tags={"app": f"web-{run}", "mirror": "wallarm"},
        stack=f"test-{run}",
        managed_tag_key="wallarm-mirror:managed-by",
        managed_tag_value=f"enrolment/test-{run}",
        description=f"Wallarm mirror of stack test-{run}",
    )
    # moto launches from any well-formed AMI id (it has none of this one): no test lists images to pick one.
    return Estate(moto_server.client("ec2"), network.subnet_id, IMAGE_ID, settings)
