"""CloudWatch alarms (and an optional dashboard) that say when the analyser is blind or struggling."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

ALB_NAMESPACE = "AWS/ApplicationELB"


@dataclass(frozen=True)
class AlarmsArgs:
    stack: str
    topic_arn: str | None  # None: the component creates a topic
    # None on a spoke, which has no load balancer and no nodes (its specs watch the enrolment only).
    alb_arn_suffix: pulumi.Input[str] | None
    target_group_arn_suffix: pulumi.Input[str] | None
    asg_name: pulumi.Input[str] | None
    region: pulumi.Input[str]
    dashboard: bool
    tags: dict[str, str]
    # Another analyser's table (NATIVE_ALARMS) and the dimensions its extra kinds need.
    specs: tuple[AlarmSpec, ...] | None = None
    extra_dimensions: dict[str, dict[str, pulumi.Input[str]]] | None = None
    # Another analyser's dashboard: the body from (load balancer, target group, ASG, region), resolved.
    dashboard_body: Callable[[str, str, str, str], str] | None = None


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm: what it watches and when it fires (pure data, so tests can read the table)."""

    suffix: str
    description: str
    namespace: str
    metric: str
    statistic: str
    comparison: str
    threshold: float
    period: int
    evaluation_periods: int
    dimensions: str  # "target_group" (TG + load balancer), "alb", "asg", or an extra kind of the caller
    # No data points from the target group mean no healthy host reported: treat as breaching.
    missing_data: str = "notBreaching"


ALARMS: tuple[AlarmSpec, ...] = (
    AlarmSpec(
        "no-healthy-nodes",
        "No healthy Wallarm node behind the mirror ALB: mirrored traffic is not analysed.",
        ALB_NAMESPACE,
        "HealthyHostCount",
        "Minimum",
        "LessThanThreshold",
        1,
        60,
        3,
        "target_group",
        missing_data="breaching",
    ),
    AlarmSpec(
        "unhealthy-nodes",
        "A Wallarm node has failed its health check for 10 minutes.",
        ALB_NAMESPACE,
        "UnHealthyHostCount",
        "Maximum",
        "GreaterThanThreshold",
        0,
        60,
        10,
        "target_group",
    ),
    AlarmSpec(
        "cpu-high",
        "Wallarm nodes average over 85% CPU for 15 minutes: scaling is at its limit or too slow.",
        "AWS/EC2",
        "CPUUtilization",
        "Average",
        "GreaterThanThreshold",
        85,
        300,
        3,
        "asg",
    ),
    AlarmSpec(
        "target-5xx",
        "Wallarm nodes answer mirrored requests with 5xx errors.",
        ALB_NAMESPACE,
        "HTTPCode_Target_5XX_Count",
        "Sum",
        "GreaterThanThreshold",
        10,
        300,
        1,
        "target_group",
    ),
    AlarmSpec(
        "elb-5xx",
        "The mirror ALB itself returns 5xx: no node could take the request.",
        ALB_NAMESPACE,
        "HTTPCode_ELB_5XX_Count",
        "Sum",
        "GreaterThanThreshold",
        10,
        300,
        1,
        "alb",
    ),
    AlarmSpec(
        "target-connection-errors",
        "The mirror ALB cannot connect to Wallarm nodes.",
        ALB_NAMESPACE,
        "TargetConnectionErrorCount",
        "Sum",
        "GreaterThanThreshold",
        0,
        300,
        1,
        "target_group",
    ),
)


NLB_NAMESPACE = "AWS/NetworkELB"

# The Native Node analyser: the same questions (is any node healthy, is one failing, are they
# saturated), asked of the NLB's UDP target group, plus the enrolment function's failures.
NATIVE_ALARMS: tuple[AlarmSpec, ...] = (
    dataclasses.replace(
        ALARMS[0],
        description="No healthy Wallarm Native Node behind the NLB: mirrored traffic is not analysed.",
        namespace=NLB_NAMESPACE,
    ),
    dataclasses.replace(
        ALARMS[1],
        description="A Wallarm Native Node has failed its health check (:8080 /ready) for 10 minutes.",
        namespace=NLB_NAMESPACE,
    ),
    ALARMS[2],  # cpu-high
)
ENROLMENT_ALARMS: tuple[AlarmSpec, ...] = (
    AlarmSpec(
        "enrolment-errors",
        "The traffic mirror enrolment function failed: new instances may not be mirrored.",
        "AWS/Lambda",
        "Errors",
        "Sum",
        "GreaterThanThreshold",
        0,
        300,
        1,
        "function",
    ),
    AlarmSpec(
        "enrolment-dead-letters",
        "Enrolment events failed after Lambda's retries and wait in the dead-letter queue.",
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        "GreaterThanThreshold",
        0,
        300,
        1,
        "queue",
    ),
)


def _widget(region: str, title: str, metrics: list[list[object]], x: int, y: int, stat: str) -> dict[str, object]:
    """One half-width metric graph of a dashboard, at grid position (x, y)."""
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {"title": title, "region": region, "stat": stat, "period": 60, "metrics": metrics},
    }


def dashboard_body(alb: str, target_group: str, asg: str, region: str) -> str:
    """Request count, healthy hosts, node CPU and target response time on one page."""

    widget = functools.partial(_widget, region)

    return json.dumps(
        {
            "widgets": [
                widget("Mirrored requests", [[ALB_NAMESPACE, "RequestCount", "LoadBalancer", alb]], 0, 0, "Sum"),
                widget(
                    "Healthy / unhealthy nodes",
                    [
                        [ALB_NAMESPACE, "HealthyHostCount", "TargetGroup", target_group, "LoadBalancer", alb],
                        [ALB_NAMESPACE, "UnHealthyHostCount", "TargetGroup", target_group, "LoadBalancer", alb],
                    ],
                    12,
                    0,
                    "Minimum",
                ),
                widget("Node CPU %", [["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", asg]], 0, 6, "Average"),
                widget(
                    "Node response time (s)",
                    [[ALB_NAMESPACE, "TargetResponseTime", "TargetGroup", target_group, "LoadBalancer", alb]],
                    12,
                    6,
                    "p95",
                ),
            ]
        },
        sort_keys=True,
    )


def native_dashboard_body(nlb: str, target_group: str, asg: str, region: str, *, stack: str, enrolment: bool) -> str:
    """The Native Node analyser on one page: what the NLB carries (bytes and packets of the copies),
    healthy and unhealthy nodes, node CPU, and (with tagged sources) enrolment pending and failed.

    AWS/NetworkELB metrics: ProcessedBytes by LoadBalancer and HealthyHostCount/UnHealthyHostCount
    by TargetGroup and LoadBalancer are documented (NLB guide, "CloudWatch metrics for your Network
    Load Balancer", which also says metrics are reported only while traffic flows). ProcessedPackets
    by LoadBalancer is inferred: seen in public dashboards of that namespace, not on a page read here;
    if AWS has no such metric its widget stays empty and nothing else breaks.
    """

    widget = functools.partial(_widget, region)

    widgets = [
        widget("Mirrored bytes (NLB)", [[NLB_NAMESPACE, "ProcessedBytes", "LoadBalancer", nlb]], 0, 0, "Sum"),
        widget("Mirrored packets (NLB)", [[NLB_NAMESPACE, "ProcessedPackets", "LoadBalancer", nlb]], 12, 0, "Sum"),
        widget(
            "Healthy / unhealthy nodes",
            [
                [NLB_NAMESPACE, "HealthyHostCount", "TargetGroup", target_group, "LoadBalancer", nlb],
                [NLB_NAMESPACE, "UnHealthyHostCount", "TargetGroup", target_group, "LoadBalancer", nlb],
            ],
            0,
            6,
            "Minimum",
        ),
        widget("Node CPU %", [["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", asg]], 12, 6, "Average"),
    ]
    if enrolment:
        # Imported here: an NGINX stack's plan never loads the enrolment function's module.
        from ..traffic_mirror import enrolment as code

        widgets.append(
            widget(
                "Enrolment: sources pending / failed",
                [
                    # The enrolment function's own metrics, by the Pulumi stack name.
                    [code.METRIC_NAMESPACE, code.PENDING_METRIC, code.METRIC_DIMENSION, stack],
                    [code.METRIC_NAMESPACE, code.FAILED_METRIC, code.METRIC_DIMENSION, stack],
                ],
                0,
                12,
                "Maximum",
            )
        )
    return json.dumps({"widgets": widgets}, sort_keys=True)


class MirrorAlarms(pulumi.ComponentResource):
    """Creates the stack's CloudWatch alarms (no healthy node, unhealthy nodes, CPU, 5xx, connection
    errors) with actions to the given SNS topic or one it creates, and optionally a dashboard."""

    def __init__(self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wallarm:mirror:Alarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = f"wallarm-mirror-{args.stack}"

        if args.topic_arn is None:
            topic = aws.sns.Topic(
                f"{name}-alarms",
                kms_master_key_id="alias/aws/sns",
                tags=args.tags,
                opts=child,
            )
            self.topic_arn: pulumi.Output[str] = topic.arn
        else:
            self.topic_arn = pulumi.Output.from_input(args.topic_arn)

        dimensions: dict[str, dict[str, pulumi.Input[str]]] = dict(args.extra_dimensions or {})
        if args.alb_arn_suffix is not None:
            dimensions["alb"] = {"LoadBalancer": args.alb_arn_suffix}
            if args.target_group_arn_suffix is not None:
                dimensions["target_group"] = {
                    "TargetGroup": args.target_group_arn_suffix,
                    "LoadBalancer": args.alb_arn_suffix,
                }
        if args.asg_name is not None:
            dimensions["asg"] = {"AutoScalingGroupName": args.asg_name}
        self.alarms = [
            aws.cloudwatch.MetricAlarm(
                f"{name}-{spec.suffix}",
                name=f"{prefix}-{spec.suffix}",
                alarm_description=spec.description,
                namespace=spec.namespace,
                metric_name=spec.metric,
                statistic=spec.statistic,
                comparison_operator=spec.comparison,
                threshold=spec.threshold,
                period=spec.period,
                evaluation_periods=spec.evaluation_periods,
                datapoints_to_alarm=spec.evaluation_periods,
                treat_missing_data=spec.missing_data,
                dimensions=dimensions[spec.dimensions],
                alarm_actions=[self.topic_arn],
                ok_actions=[self.topic_arn],
                tags=args.tags,
                opts=child,
            )
            for spec in (ALARMS if args.specs is None else args.specs)
        ]
        self.dashboard_name: pulumi.Output[str] | None = None
        if args.dashboard:
            dashboard = aws.cloudwatch.Dashboard(
                f"{name}-dashboard",
                dashboard_name=prefix,
                dashboard_body=pulumi.Output.all(
                    args.alb_arn_suffix, args.target_group_arn_suffix, args.asg_name, args.region
                ).apply(lambda v: (args.dashboard_body or dashboard_body)(*v)),
                opts=child,
            )
            self.dashboard_name = dashboard.dashboard_name
        self.register_outputs({"alarm_topic_arn": self.topic_arn})
