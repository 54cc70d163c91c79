"""The Wallarm nodes: AMI lookup, launch template, auto scaling group and its scaling policy."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..node.profiles import MARKETPLACE_OWNER_ID, ami_name_pattern

# Node registration and the first rule download take minutes (Wallarm quotes ~10 for a new node);
# a shorter grace period would let the ELB health check kill nodes that are still setting up.
HEALTH_CHECK_GRACE_SECONDS = 600
INSTANCE_WARMUP_SECONDS = 300
GROUP_METRICS = [
    "GroupMinSize",
    "GroupMaxSize",
    "GroupDesiredCapacity",
    "GroupInServiceInstances",
    "GroupPendingInstances",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
]


@dataclass(frozen=True)
class AmiQuery:
    """Which image to look up when none is pinned (the Native Node runs on a stock OS image)."""

    owners: list[str]
    name_pattern: str
    architecture: str


@dataclass(frozen=True)
class NodeGroupArgs:
    node_version: str
    ami_id: str | None
    instance_type: str
    root_volume_size: int
    subnet_ids: list[str]
    security_group_id: pulumi.Input[str]
    instance_profile_arn: pulumi.Input[str]
    target_group_arn: pulumi.Input[str]
    user_data_base64: pulumi.Output[str]
    min_size: int
    max_size: int
    desired_capacity: int
    cpu_target: float
    tags: dict[str, str]
    # ALBRequestCountPerTarget scaling: "<alb arn suffix>/<target group arn suffix>" and requests per node.
    request_label: pulumi.Input[str] | None = None
    requests_per_node: float | None = None
    # Another image than the Wallarm NGINX node AMI of node_version.
    ami_query: AmiQuery | None = None
    description: str = "Wallarm node analysing mirrored traffic"


def lookup_ami(
    node_version: str, ami_id: str | None, parent: pulumi.Resource, query: AmiQuery | None = None
) -> pulumi.Output[aws.ec2.GetAmiResult]:
    """The Wallarm AMI: the pinned id, else the newest x86_64 image of the node version.

    A pinned AMI is looked up too, because the root volume must go on that image's own root
    device name (/dev/xvda on Debian images, /dev/sda1 on others): a mapping on any other name
    adds a second, empty volume and leaves the real root unencrypted.
    """
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    if ami_id:
        return aws.ec2.get_ami_output(filters=[{"name": "image-id", "values": [ami_id]}], opts=invoke)
    owners, pattern, architecture = (
        (query.owners, query.name_pattern, query.architecture)
        if query
        else ([MARKETPLACE_OWNER_ID], ami_name_pattern(node_version), "x86_64")
    )
    return aws.ec2.get_ami_output(
        most_recent=True,
        owners=owners,
        filters=[
            {"name": "name", "values": [pattern]},
            {"name": "architecture", "values": [architecture]},
            {"name": "virtualization-type", "values": ["hvm"]},
            {"name": "state", "values": ["available"]},
        ],
        opts=invoke,
    )


class NodeGroup(pulumi.ComponentResource):
    """Creates the launch template (Wallarm AMI, IMDSv2 only, encrypted gp3 root, boot script) and
    the auto scaling group behind the target group, with rolling instance refresh and CPU scaling."""

    def __init__(self, name: str, args: NodeGroupArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wallarm:mirror:NodeGroup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.ami = lookup_ami(args.node_version, args.ami_id, self, args.ami_query)
        instance_tags = {**args.tags, "Name": f"{name}-node"}
        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-node-lt",
            description=args.description,
            image_id=self.ami.id,
            instance_type=args.instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=args.instance_profile_arn),
            vpc_security_group_ids=[args.security_group_id],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # 1 hop: a container on the node cannot reach the instance role's credentials.
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=self.ami.root_device_name,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.root_volume_size,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
            user_data=args.user_data_base64,
            update_default_version=True,
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=instance_tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            tags=args.tags,
            opts=child,
        )
        self.group = aws.autoscaling.Group(
            f"{name}-asg",
            vpc_zone_identifiers=args.subnet_ids,
            min_size=args.min_size,
            max_size=args.max_size,
            desired_capacity=args.desired_capacity,
            # The number, not "$Latest": a new template version changes this input, and that change
            # is what starts the rolling instance refresh below.
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=self.launch_template.id, version=self.launch_template.latest_version.apply(str)
            ),
            target_group_arns=[args.target_group_arn],
            health_check_type="ELB",
            health_check_grace_period=HEALTH_CHECK_GRACE_SECONDS,
            protect_from_scale_in=False,
            default_instance_warmup=INSTANCE_WARMUP_SECONDS,
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                # Launch the replacement before terminating the old node, so a one-node stack
                # keeps analysing during a refresh.
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=100,
                    max_healthy_percentage=200,
                    instance_warmup=str(INSTANCE_WARMUP_SECONDS),
                    skip_matching=True,
                ),
            ),
            enabled_metrics=[aws.autoscaling.Metric(metric) for metric in GROUP_METRICS],
            metrics_granularity="1Minute",
            wait_for_capacity_timeout="20m",
            tags=[
                aws.autoscaling.GroupTagArgs(key=key, value=value, propagate_at_launch=True)
                for key, value in sorted(instance_tags.items())
            ],
            # Target tracking moves desired capacity; a later `pulumi up` must not undo that.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desired_capacity"]),
        )

        def target_tracking(
            policy_name: str, metric: str, target: float, label: pulumi.Input[str] | None = None
        ) -> aws.autoscaling.Policy:
            return aws.autoscaling.Policy(
                policy_name,
                autoscaling_group_name=self.group.name,
                policy_type="TargetTrackingScaling",
                estimated_instance_warmup=INSTANCE_WARMUP_SECONDS,
                target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                    predefined_metric_specification=aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                        predefined_metric_type=metric, resource_label=label
                    ),
                    target_value=target,
                ),
                opts=child,
            )

        self.cpu_policy = target_tracking(f"{name}-cpu-scaling", "ASGAverageCPUUtilization", args.cpu_target)
        if args.requests_per_node is not None and args.request_label is not None:
            target_tracking(
                f"{name}-request-scaling", "ALBRequestCountPerTarget", args.requests_per_node, args.request_label
            )
        self.register_outputs(
            {
                "asg_name": self.group.name,
                "launch_template_id": self.launch_template.id,
                "launch_template_version": self.launch_template.latest_version,
                "ami_id": self.ami.id,
            }
        )
