"""A VPC with two private subnets, and a Wallarm mirror analyser in them: ids as Outputs, no copy-paste.

The component takes the VPC's and subnets' Outputs as they are; it checks them with the stack
config's rules when they resolve (`pulumi up` stops with the field's sentence on a bad one).
"""

import pulumi
import pulumi_aws as aws

from wallarm_mirror import WallarmMirror, WallarmMirrorArgs

config = pulumi.Config()
zones = aws.get_availability_zones_output(state="available")

vpc = aws.ec2.Vpc("app", cidr_block="10.0.0.0/16", enable_dns_hostnames=True, tags={"Name": "app"})
private = [
    aws.ec2.Subnet(
        f"app-private-{index}",
        vpc_id=vpc.id,
        cidr_block=f"10.0.{index}.0/24",
        availability_zone=zones.names[index],
        tags={"Name": f"app-private-{index}"},
    )
    for index in range(2)
]

mirror = WallarmMirror(
    "waf",
    WallarmMirrorArgs(
        vpc_id=vpc.id,
        alb_subnet_ids=[subnet.id for subnet in private],
        mirror_source_cidrs=["10.0.16.0/20"],  # the web tier that mirrors its requests
        token=config.require_secret("wallarmToken"),
        deletion_protection=False,  # an example: easy to tear down
        tags={"env": "example"},
    ),
)

pulumi.export("vpc_id", vpc.id)
pulumi.export("mirror_endpoint", mirror.mirror_endpoint)
pulumi.export("alb_dns_name", mirror.alb_dns_name)
pulumi.export("asg_name", mirror.asg_name)
