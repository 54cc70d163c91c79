"""A deployed stack as `status` sees it, built in moto (server mode, 127.0.0.1): VPC, load balancer,
target group, Auto Scaling group with instances, CloudWatch metrics and alarms; plus botocore
`before-call` hooks for the few answers moto cannot give."""

from __future__ import annotations

import base64
import copy
import dataclasses
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.awsrequest
import botocore.exceptions
from botocore.awsrequest import HTTPHeaders

from tests.node.boot.moto_server import REGION, MotoServer, loading_session

_numbers = itertools.count(1)


@dataclass
class MotoStack:
    """One stack's resources in moto, and the `pulumi stack output --json` a real stack would print."""

    server: MotoServer
    stack: str
    analyser: str
    outputs: dict[str, Any]
    instance_ids: list[str]
    hooks: dict[str, Callable[..., Any]] = field(default_factory=dict)

    @property
    def load_balancer_dimension(self) -> str:
        arn = self.outputs["alb_arn" if self.analyser == "nginxNode" else "nlb_arn"]
        return arn.split(":loadbalancer/", 1)[1]

    def fresh(self) -> MotoStack:
        """This stack for one test: the same resources in moto, and hooks and outputs of its own (the
        hooks answer what moto cannot, so a test may set them on a stack other tests read too)."""
        return dataclasses.replace(
            self, outputs=copy.deepcopy(self.outputs), instance_ids=list(self.instance_ids), hooks=dict(self.hooks)
        )

    def write_outputs(self, folder: Path) -> Path:
        path = folder / f"{self.stack}.outputs.json"
        path.write_text(json.dumps(self.outputs, indent=2))
        return path

    def send_traffic(self, per_minute: float = 40.0, minutes: int = 5) -> None:
        """What the load balancer reports to CloudWatch while mirrored traffic flows."""
        if self.analyser == "nginxNode":
            namespace, metrics = "AWS/ApplicationELB", {"RequestCount": per_minute}
        else:
            namespace, metrics = "AWS/NetworkELB", {"ProcessedPackets": per_minute, "ProcessedBytes": per_minute * 900}
        now = datetime.now(UTC)
        self.server.client("cloudwatch").put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": "LoadBalancer", "Value": self.load_balancer_dimension}],
                    "Timestamp": now - timedelta(minutes=minute + 1),
                    "Value": value,
                }
                for metric, value in metrics.items()
                for minute in range(minutes)
            ],
        )

    def alarm(self, suffix: str, description: str, *, firing: bool) -> None:
        """An alarm named as components/alarms.py names them, on the stack's Auto Scaling group."""
        client = self.server.client("cloudwatch")
        name = f"wallarm-mirror-{self.stack}-{suffix}"
        client.put_metric_alarm(
            AlarmName=name,
            AlarmDescription=description,
            Namespace="AWS/EC2",
            MetricName="CPUUtilization",
            Dimensions=[{"Name": "AutoScalingGroupName", "Value": self.outputs["asg_name"]}],
            Statistic="Average",
            Period=300,
            EvaluationPeriods=3,
            Threshold=85,
            ComparisonOperator="GreaterThanThreshold",
        )
        if firing:
            client.set_alarm_state(
                AlarmName=name, StateValue="ALARM", StateReason="Threshold Crossed: 3 datapoints were greater than 85"
            )

    # moto answers GetConsoleOutput with one fixed kernel log for every instance, and
    # DescribeScalingActivities with an empty list: these hooks answer those calls alone.
    def console(self, lines: dict[str, str]) -> None:
        """Each instance's console ends with its boot line (cloud-init's own prefix before ours)."""

        def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
            instance = params["body"]["InstanceId"]
            text = "[   11.2] cloud-init[812]: wallarm-boot: stopping nginx\n"
            text += f"[   48.9] cloud-init[812]: {lines[instance]}\n"
            return _ok({"InstanceId": instance, "Output": base64.b64encode(text.encode()).decode()})

        self.hooks["before-call.ec2.GetConsoleOutput"] = answer

    def activities(self, activities: list[dict[str, Any]]) -> None:
        self.hooks["before-call.auto-scaling.DescribeScalingActivities"] = lambda **_: _ok({"Activities": activities})

    def target_health(self, health: dict[str, dict[str, str]]) -> None:
        """moto reports every running target healthy: this answers with the given states, for the
        stack's own target group only (other groups still get moto's answer)."""

        def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
            if params["body"]["TargetGroupArn"] != self.outputs["target_group_arn"]:
                return None
            port = 8445 if self.analyser == "nginxNode" else 4789
            return _ok(
                {
                    "TargetHealthDescriptions": [
                        {
                            "Target": {"Id": instance, "Port": port},
                            "TargetHealth": health.get(instance, {"State": "healthy"}),
                        }
                        for instance in self.instance_ids
                    ]
                }
            )

        self.hooks["before-call.elastic-load-balancing-v2.DescribeTargetHealth"] = answer

    def tagged_instances(self) -> list[str]:
        """Every running instance carrying the stack's source tag."""
        reservations = self.server.client("ec2").describe_instances(
            Filters=[
                {"Name": "tag:role", "Values": [f"web-{self.stack}"]},
                {"Name": "instance-state-name", "Values": ["running"]},
            ]
        )["Reservations"]
        return sorted(i["InstanceId"] for r in reservations for i in r["Instances"])

    def web_instances(self, count: int) -> list[str]:
        """More running web instances carrying the stack's source tag (role=web-<stack>)."""
        ec2 = self.server.client("ec2")
        subnet = ec2.describe_instances(Filters=[{"Name": "tag:role", "Values": [f"web-{self.stack}"]}])[
            "Reservations"
        ][0]["Instances"][0]["SubnetId"]
        launched = ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=count,
            MaxCount=count,
            SubnetId=subnet,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": f"web-{self.stack}"}]}],
        )["Instances"]
        return [i["InstanceId"] for i in launched]

    def host_mirroring(self, runs: dict[str, tuple[str, str]], managed: set[str], found: bool = True) -> None:
        """The host mirroring association (moto has no State Manager): its target is the source tag,
        its last run on each instance is runs[id] = (status, stderr), and SSM reaches `managed`."""
        association = "0123abcd-4567-89ef-0123-456789abcdef"
        self.outputs["host_mirror_association_id"] = association
        command = "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"

        def describe(**_: Any) -> tuple[Any, dict[str, Any]]:
            if not found:
                raise botocore.exceptions.ClientError(
                    {"Error": {"Code": "AssociationDoesNotExist", "Message": "no such association"}},
                    "DescribeAssociation",
                )
            targets = [{"Key": "tag:role", "Values": [f"web-{self.stack}"]}]
            return _ok({"AssociationDescription": {"AssociationId": association, "Targets": targets}})

        self.hooks["before-call.ssm.DescribeAssociation"] = describe
        executions = [{"AssociationId": association, "ExecutionId": "e-1", "CreatedTime": datetime.now(UTC)}]
        self.hooks["before-call.ssm.DescribeAssociationExecutions"] = lambda **_: _ok(
            {"AssociationExecutions": executions if runs else []}
        )
        self.hooks["before-call.ssm.DescribeAssociationExecutionTargets"] = lambda **_: _ok(
            {
                "AssociationExecutionTargets": [
                    {
                        "AssociationId": association,
                        "ExecutionId": "e-1",
                        "ResourceId": instance,
                        "ResourceType": "ManagedInstance",
                        "Status": status,
                        "DetailedStatus": status,
                        "OutputSource": {"OutputSourceId": command, "OutputSourceType": "RunCommand"},
                    }
                    for instance, (status, _) in runs.items()
                ]
            }
        )

        def invocation(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
            body = json.loads(params["body"])  # SSM speaks JSON: the body is still bytes here
            instance = body["InstanceId"]
            assert body["CommandId"] == command
            return _ok({"InstanceId": instance, "StandardErrorContent": runs[instance][1], "StatusDetails": "Failed"})

        self.hooks["before-call.ssm.GetCommandInvocation"] = invocation
        self.hooks["before-call.ssm.DescribeInstanceInformation"] = lambda **_: _ok(
            {"InstanceInformationList": [{"InstanceId": i, "PingStatus": "Online"} for i in sorted(managed)]}
        )

    def session(self, **credentials: str) -> boto3.session.Session:
        """The standard-chain session status would open, with this stack's hooks registered."""
        session = standard_session(**credentials)
        for event, hook in self.hooks.items():
            session.events.register(event, hook)  # on this session alone
        return session


def standard_session(**credentials: str) -> boto3.session.Session:
    """The standard-chain session status opens (`new_session`), reading the service models through the
    process's one loader (`loading_session`): they load once per test process instead of once per
    status run (EC2's is 2 MB of JSON, ~0.2 s of CPU)."""
    return boto3.session.Session(botocore_session=loading_session(), **credentials)


def _ok(parsed: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    # What botocore's Stubber returns from the same event: an HTTP 200 and the parsed answer.
    return botocore.awsrequest.AWSResponse("https://127.0.0.1/", 200, HTTPHeaders(), None), parsed


def build_stack(server: MotoServer, analyser: str = "nginxNode", nodes: int = 2) -> MotoStack:
    """A stack as `pulumi up` leaves it: the nodes launched by the group, registered in the target group."""
    number = next(_numbers)
    stack = f"t{number}"
    ec2, elb, scaling = server.client("ec2"), server.client("elbv2"), server.client("autoscaling")
    vpc = ec2.create_vpc(CidrBlock=f"10.{number}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{number}.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate("ab")
    ]
    native = analyser == "nativeNode"
    balancer = elb.create_load_balancer(
        Name=f"{stack}-lb", Subnets=subnets, Scheme="internal", Type="network" if native else "application"
    )["LoadBalancers"][0]["LoadBalancerArn"]
    if native:
        # moto names every load balancer loadbalancer/app/...; AWS names a network one loadbalancer/net/.
        balancer = balancer.replace(":loadbalancer/app/", ":loadbalancer/net/")
    group_arn = elb.create_target_group(
        Name=f"{stack}-tg",
        Protocol="UDP" if native else "HTTP",
        Port=4789 if native else 8445,
        VpcId=vpc,
        TargetType="instance",
        HealthCheckProtocol="HTTP",
        HealthCheckPort="8080" if native else "8445",
    )["TargetGroups"][0]["TargetGroupArn"]
    template = ec2.create_launch_template(
        LaunchTemplateName=f"{stack}-lt", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.small"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    asg = f"wallarm-mirror-{stack}-asg"
    scaling.create_auto_scaling_group(
        AutoScalingGroupName=asg,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=nodes,
        VPCZoneIdentifier=",".join(subnets),
        TargetGroupARNs=[group_arn],
    )
    instances = [
        i["InstanceId"]
        for i in scaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg])["AutoScalingGroups"][0]["Instances"]
    ]
    topic = f"arn:aws:sns:{REGION}:123456789012:wallarm-mirror-alarms"
    if native:
        # One web instance mirrored by an AWS session to the stack's target (the NLB).
        target = ec2.create_traffic_mirror_target(NetworkLoadBalancerArn=balancer)["TrafficMirrorTarget"]
        mirror_filter = ec2.create_traffic_mirror_filter()["TrafficMirrorFilter"]["TrafficMirrorFilterId"]
        web = ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            SubnetId=subnets[0],
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": f"web-{stack}"}]}],
        )["Instances"][0]
        session = ec2.create_traffic_mirror_session(
            NetworkInterfaceId=web["NetworkInterfaces"][0]["NetworkInterfaceId"],
            TrafficMirrorTargetId=target["TrafficMirrorTargetId"],
            TrafficMirrorFilterId=mirror_filter,
            SessionNumber=1,
            VirtualNetworkId=4242,
        )["TrafficMirrorSession"]["TrafficMirrorSessionId"]
        outputs: dict[str, Any] = {
            "nlb_arn": balancer,
            "nlb_dns_name": f"{stack}-lb.elb.{REGION}.amazonaws.com",
            "target_group_arn": group_arn,
            "asg_name": asg,
            "traffic_mirror_session_ids": [session],
            "traffic_mirror_target_id": target["TrafficMirrorTargetId"],
            "alarm_topic_arn": topic,
            "token_store_arn": "[secret]",
        }
    else:
        outputs = {
            "mirror_endpoint": f"http://{stack}-lb.elb.{REGION}.amazonaws.com:8445",
            "mirror_configs": {"nginx": "mirror /mirror;"},
            "alb_arn": balancer,
            "target_group_arn": group_arn,
            "asg_name": asg,
            "launch_template_version": 1,
            "alarm_topic_arn": topic,
            "token_store_arn": "[secret]",
        }
    return MotoStack(server, stack, analyser, outputs, sorted(instances))
