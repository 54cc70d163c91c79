"""A platform team's program, as a user writes it: its own VPC, subnets, key and topic, and the
analyser wired to them by Output. It must type-check (tests/typing/test_public_api_types.py) and plan."""

import pulumi
import pulumi_aws as aws

from wallarm_mirror import NativeAnalyser, NativeAnalyserArgs, WallarmMirror, WallarmMirrorArgs

vpc = aws.ec2.Vpc("net", cidr_block="10.0.0.0/16")
subnets = [
    aws.ec2.Subnet(f"private-{zone}", vpc_id=vpc.id, cidr_block=f"10.0.{i}.0/24", availability_zone=f"eu-west-1{zone}")
    for i, zone in enumerate("ab")
]
web = aws.ec2.SecurityGroup("web", vpc_id=vpc.id, description="the web tier, which mirrors")
key = aws.kms.Key("token-key", description="encrypts the Wallarm token")
reader = aws.iam.Policy("reader", policy='{"Version": "2012-10-17", "Statement": []}')
topic = aws.sns.Topic("alarms")

mirror = WallarmMirror(
    "waf",
    WallarmMirrorArgs(
        vpc_id=vpc.id,
        alb_subnet_ids=[subnet.id for subnet in subnets],
        node_subnet_ids=[subnet.id for subnet in subnets],
        mirror_source_security_group_ids=[web.id],
        extra_policy_arns=[reader.arn],
        token=pulumi.Output.secret("placeholder-token"),
        token_kms_key_arn=key.arn,
        alarm_topic_arn=topic.arn,
        min_size=2,
        desired_capacity=2,
        max_size=4,
        deletion_protection=False,
    ),
)
pulumi.export("mirror_endpoint", mirror.mirror_endpoint)

# The native analyser as a component of its own: only its args, and outputs that are never None.
web_interface = aws.ec2.NetworkInterface("web-eni", subnet_id=subnets[0].id)
native = NativeAnalyser(
    "native",
    NativeAnalyserArgs(
        vpc_id=vpc.id,
        node_subnet_ids=[subnet.id for subnet in subnets],
        mirror_source_cidrs=["10.0.16.0/20"],
        node_group="aws-traffic-mirror",
        traffic_mirror_source_eni_ids=[web_interface.id],
        token=pulumi.Output.secret("placeholder-token"),
    ),
)
nlb_arn: pulumi.Output[str] = native.nlb_arn
pulumi.export("nlb_arn", nlb_arn)
