"""The internal application load balancer that receives mirrored requests."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..node.profiles import MIRROR_LISTENER_PORT

# Mirrored copies are fire-and-forget: nothing waits on a draining node, so drain quickly.
DEREGISTRATION_DELAY_SECONDS = 30


@dataclass(frozen=True)
class LoadBalancerArgs:
    vpc_id: str
    subnet_ids: list[str]
    security_group_id: pulumi.Input[str]
    node_port: int
    health_check_port: int
    health_check_path: str
    certificate_arn: str | None
    ssl_policy: str | None
    deletion_protection: bool
    tags: dict[str, str]
    access_logs_bucket: pulumi.Input[str] | None = None
    access_logs_prefix: str = ""
    # The ALB checks it may write to the log bucket when logging is turned on: wait for the policy.
    depends_on: tuple[pulumi.Resource, ...] = ()
    # The name the web tier mirrors to, when a DNS alias (covered by the certificate) points at the ALB.
    endpoint_hostname: str | None = None


class MirrorLoadBalancer(pulumi.ComponentResource):
    """Creates the internal ALB, the node target group with its health check, and the mirror listener
    on port 8445 (HTTPS with the given ACM certificate, else HTTP)."""

    def __init__(self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wallarm:mirror:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            internal=True,
            load_balancer_type="application",
            subnets=args.subnet_ids,
            security_groups=[args.security_group_id],
            drop_invalid_header_fields=True,
            # "append" keeps the client address the web tier put in X-Forwarded-For and adds the
            # mirroring server; the nodes trust the VPC ranges recursively to find the client.
            xff_header_processing_mode="append",
            enable_deletion_protection=args.deletion_protection,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(
                bucket=args.access_logs_bucket, prefix=args.access_logs_prefix, enabled=True
            )
            if args.access_logs_bucket is not None
            else None,
            tags={**args.tags, "Name": f"{name}-alb"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.target_group = aws.lb.TargetGroup(
            f"{name}-tg",
            vpc_id=args.vpc_id,
            target_type="instance",
            protocol="HTTP",
            port=args.node_port,
            deregistration_delay=DEREGISTRATION_DELAY_SECONDS,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                protocol="HTTP",
                port=str(args.health_check_port),
                path=args.health_check_path,
                matcher="200",
                interval=10,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            tags=args.tags,
            opts=child,
        )
        https = args.certificate_arn is not None
        self.listener = aws.lb.Listener(
            f"{name}-listener",
            load_balancer_arn=self.alb.arn,
            port=MIRROR_LISTENER_PORT,
            protocol="HTTPS" if https else "HTTP",
            certificate_arn=args.certificate_arn,
            ssl_policy=args.ssl_policy,
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=self.target_group.arn)],
            tags=args.tags,
            opts=child,
        )
        scheme = "https" if https else "http"
        host = args.endpoint_hostname or self.alb.dns_name
        self.endpoint = pulumi.Output.concat(scheme, "://", host, f":{MIRROR_LISTENER_PORT}")

        self.register_outputs(
            {
                "mirror_endpoint": self.endpoint,
                "alb_arn": self.alb.arn,
                "alb_dns_name": self.alb.dns_name,
                "alb_zone_id": self.alb.zone_id,
                "target_group_arn": self.target_group.arn,
            }
        )
