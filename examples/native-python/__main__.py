"""The native analyser from a platform team's program: the network and the web tier come from the
team's network stack; AWS VPC Traffic Mirroring copies the web tier's packets to Wallarm Native Nodes.

- The VPC and subnets are the network stack's outputs (StackReference), passed on as Outputs.
- One web server's network interface, also a network stack output, gets a fixed mirror session
  (an Output item of traffic_mirror_source_eni_ids); every instance tagged role=web, including those
  launched later, is enrolled by the component's enrolment function.
- The nodes run in the private subnets, which the network stack routes out through NAT (they fetch
  the installer and register with Wallarm Cloud at boot).
"""

import pulumi

from wallarm_mirror import WallarmMirror, WallarmMirrorArgs

config = pulumi.Config()
network = pulumi.StackReference(config.require("networkStack"))
private_subnets = network.require_output("privateSubnetIds")

mirror = WallarmMirror(
    "native",
    WallarmMirrorArgs(
        analyzer="nativeNode",
        vpc_id=network.require_output("vpcId"),
        # A list of Outputs: the nodes' security group gets one health-check rule per subnet.
        node_subnet_ids=[private_subnets.apply(lambda ids: ids[0]), private_subnets.apply(lambda ids: ids[1])],
        mirror_source_cidrs=["10.0.16.0/20"],  # the web tier's subnets: VXLAN is accepted from there only
        node_group="aws-traffic-mirror",
        traffic_mirror_ports=[80],
        traffic_mirror_source_eni_ids=[network.require_output("webEniId")],
        traffic_mirror_source_tags={"role": "web"},
        instance_type="c7g.large",  # Graviton: the installer has an aarch64 build, and it costs less
        min_size=2,
        max_size=4,
        desired_capacity=2,
        token=config.require_secret("wallarmApiToken"),
        tags={"env": "prod", "owner": "platform-team"},
    ),
)

pulumi.export("nlb_arn", mirror.nlb_arn)
pulumi.export("traffic_mirror_target_id", mirror.traffic_mirror_target_id)
pulumi.export("traffic_mirror_session_ids", mirror.traffic_mirror_session_ids)
pulumi.export("enrolment_function_name", mirror.enrolment_function_name)
