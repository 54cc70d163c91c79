"""A VPC with public and private subnets, a route out, and a Wallarm mirror analyser in it.

The component takes the VPC's and subnets' Outputs as they are; it checks them with the stack
config's rules when they resolve (`pulumi up` stops with the field's sentence on a bad one).

The nodes run in the private subnets and need a route out: at boot they fetch the token (Secrets
Manager), install and register with Wallarm Cloud, then keep sending it attack data. Wallarm Cloud
is on the internet, so a NAT gateway is needed in any case; it carries the AWS API calls too. (VPC
interface endpoints for Secrets Manager and SSM would keep those calls inside the VPC, at a price
per endpoint and zone; they cannot replace the NAT gateway.) One NAT gateway keeps the example cheap;
give each zone its own for a production VPC, so one zone's outage does not cut the others off.
"""

import pulumi
import pulumi_aws as aws

from wallarm_mirror import WallarmMirror, WallarmMirrorArgs

config = pulumi.Config()
zones = aws.get_availability_zones_output(state="available")

vpc = aws.ec2.Vpc("app", cidr_block="10.0.0.0/16", enable_dns_hostnames=True, tags={"Name": "app"})


def subnet(kind: str, index: int, third_octet: int) -> aws.ec2.Subnet:
    return aws.ec2.Subnet(
        f"app-{kind}-{index}",
        vpc_id=vpc.id,
        cidr_block=f"10.0.{third_octet}.0/24",
        availability_zone=zones.names[index],
        tags={"Name": f"app-{kind}-{index}"},
    )


private = [subnet("private", index, index) for index in range(2)]
public = [subnet("public", index, 100 + index) for index in range(2)]

# The route out: public subnets reach the internet through the internet gateway; the private ones,
# where the nodes run, through a NAT gateway in a public subnet.
gateway = aws.ec2.InternetGateway("app", vpc_id=vpc.id, tags={"Name": "app"})
public_routes = aws.ec2.RouteTable(
    "app-public",
    vpc_id=vpc.id,
    routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
    tags={"Name": "app-public"},
)
nat_address = aws.ec2.Eip("app-nat", domain="vpc", tags={"Name": "app-nat"})
nat = aws.ec2.NatGateway(
    "app",
    allocation_id=nat_address.id,
    subnet_id=public[0].id,
    tags={"Name": "app"},
    opts=pulumi.ResourceOptions(depends_on=[gateway]),
)
private_routes = aws.ec2.RouteTable(
    "app-private",
    vpc_id=vpc.id,
    routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
    tags={"Name": "app-private"},
)
for index, (outside, inside) in enumerate(zip(public, private, strict=True)):
    aws.ec2.RouteTableAssociation(f"app-public-{index}", subnet_id=outside.id, route_table_id=public_routes.id)
    aws.ec2.RouteTableAssociation(f"app-private-{index}", subnet_id=inside.id, route_table_id=private_routes.id)

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
    # The nodes need the route out from their first boot on.
    pulumi.ResourceOptions(depends_on=[private_routes, nat]),
)

pulumi.export("vpc_id", vpc.id)
pulumi.export("nat_public_ip", nat_address.public_ip)
pulumi.export("mirror_endpoint", mirror.mirror_endpoint)
pulumi.export("alb_dns_name", mirror.alb_dns_name)
pulumi.export("asg_name", mirror.asg_name)
