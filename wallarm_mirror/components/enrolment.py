"""The enrolment Lambda: keeps a traffic mirror session on every instance that carries the source tags."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from ..traffic_mirror import ENROLMENT_SOURCE
from ..traffic_mirror import enrolment as code
from ..traffic_mirror.policy import enrolment_policy
from .tags import assume_role_policy

# Instances launched between two events are caught by the next reconcile at the latest.
RECONCILE_SCHEDULE = "rate(5 minutes)"
LOG_RETENTION_DAYS = 30
RUNTIME = "python3.12"
# A reconcile paces its calls and stops DEADLINE_MARGIN_S before its deadline (what is left is
# deferred to the next run), so the timeout sets how much one run does: 270 s lets a reconcile make
# about 700 sessions at the default rate, and ends before the next scheduled one (5 minutes) starts,
# so reconciles never overlap.
TIMEOUT_SECONDS = 270
MANAGED_TAG_KEY = "wallarm-mirror:managed-by"
# One reconcile and one batch of launch events at a time: the function's rate is split on that
# assumption (code.RECONCILE_SHARE); more would only share EC2's bucket further.
RESERVED_CONCURRENCY = code.CONCURRENCY
# Launch events wait in a queue and arrive in batches: one invocation, one DescribeInstances (ids in
# chunks of 200, code.FILTER_CHUNK) and one DescribeTrafficMirrorSessions per 200 launches, instead of
# an invocation and two listings per launch. A single launch waits at most the window (20 s, against
# 5 minutes for the schedule); a scale-out of hundreds fills a batch of 200 before that.
EVENT_BATCH_SIZE = code.FILTER_CHUNK
EVENT_BATCH_WINDOW_SECONDS = 20
# AWS's advice for a queue that feeds a function: visibility timeout at least six times its timeout.
EVENT_VISIBILITY_SECONDS = 6 * TIMEOUT_SECONDS
# A launch event older than an hour is moot: a dozen reconciles have looked at the instance since.
EVENT_RETENTION_SECONDS = 3600
EVENT_MAX_RECEIVES = 5
# Sources pending in every 10-minute period for an hour (each period holds two reconciles; the
# Minimum is above 0 only when both left sources pending). A first enrolment of 5,000 sources at the
# default rate converged in 9 runs, 41 minutes, in the simulation (docs/enrolment-at-scale.md).
PENDING_ALARM_PERIOD_SECONDS = 600
PENDING_ALARM_PERIODS = 6


@dataclass(frozen=True)
class EnrolmentArgs:
    stack: str
    source_tags: dict[str, str]
    target_id: pulumi.Input[str]
    filter_id: pulumi.Input[str]
    # An Input: a spoke's VNI is its hub's (a StackReference output).
    vni: pulumi.Input[int]
    session_number: int
    description: str
    method: str
    region: pulumi.Input[str]
    account: pulumi.Input[str]
    partition: pulumi.Input[str]
    tags: dict[str, str]
    # trafficMirrorEnrolmentRate: the function's budget of each mutating EC2 call a second.
    mutation_rate: float = code.DEFAULT_MUTATION_RATE
    # A spoke's target is its hub's, in the hub's account (shared by AWS RAM): its ARN names that
    # account, so the policy cannot build it from this one's. None: the target is this account's.
    target_arn: pulumi.Input[str] | None = None


class TrafficMirrorEnrolment(pulumi.ComponentResource):
    """Creates the enrolment function (boto3 only, least-privilege role, its own log group with
    retention, a dead-letter queue, reserved concurrency), fed batches of "running" events through
    an SQS queue and run on a schedule that reconciles (creates missing sessions, deletes those whose
    interface is gone), with metric filters for its pending and failed enrolments; `pending_alarm`
    adds the alarm on the first."""

    def __init__(self, name: str, args: EnrolmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wallarm:mirror:TrafficMirrorEnrolment", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        managed_value = f"wallarm-mirror/{args.stack}"

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-enrolment-logs",
            name=f"/wallarm-mirror/{args.stack}/enrolment",
            retention_in_days=LOG_RETENTION_DAYS,
            tags=args.tags,
            opts=child,
        )
        # EventBridge invokes asynchronously: after Lambda's own retries, a failed event lands here.
        self.dead_letters = aws.sqs.Queue(
            f"{name}-enrolment-dlq",
            message_retention_seconds=14 * 24 * 3600,
            sqs_managed_sse_enabled=True,
            tags=args.tags,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-enrolment-role",
            description="Wallarm mirror enrolment function: traffic mirror sessions of tagged instances",
            assume_role_policy=assume_role_policy("lambda.amazonaws.com"),
            tags=args.tags,
            opts=child,
        )

        # "running" events of EC2 instances, batched for the function (see EVENT_BATCH_SIZE).
        self.events = aws.sqs.Queue(
            f"{name}-enrolment-events",
            visibility_timeout_seconds=EVENT_VISIBILITY_SECONDS,
            message_retention_seconds=EVENT_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            redrive_policy=self.dead_letters.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": EVENT_MAX_RECEIVES})
            ),
            tags=args.tags,
            opts=child,
        )

        def policy(values: list[Any]) -> str:
            region, account, target, mirror_filter, log_group_arn, queue_arn, events_arn, target_arn = values
            document = enrolment_policy(
                region, account, target, mirror_filter, MANAGED_TAG_KEY, managed_value, target_arn=target_arn
            )
            document["Statement"] += [
                # Its own log group only: no logs:CreateLogGroup, so it cannot log anywhere else.
                {
                    "Sid": "WriteOwnLogs",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{log_group_arn}:*",
                },
                {"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn},
                # What Lambda's event source mapping does with the function's role on its queue.
                {
                    "Sid": "ReceiveLaunchEvents",
                    "Effect": "Allow",
                    "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                    "Resource": events_arn,
                },
            ]
            return json.dumps(document, sort_keys=True)

        self.policy = aws.iam.RolePolicy(
            f"{name}-enrolment-policy",
            role=self.role.id,
            policy=pulumi.Output.all(
                args.region,
                args.account,
                args.target_id,
                args.filter_id,
                self.log_group.arn,
                self.dead_letters.arn,
                self.events.arn,
                args.target_arn,
            ).apply(policy),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-enrolment",
            description=f"wallarm-mirror {args.stack}: traffic mirror sessions for tagged instances",
            runtime=RUNTIME,
            handler="enrolment.handler",
            role=self.role.arn,
            code=pulumi.AssetArchive({"enrolment.py": pulumi.FileAsset(str(ENROLMENT_SOURCE))}),
            timeout=TIMEOUT_SECONDS,
            memory_size=256,
            reserved_concurrent_executions=RESERVED_CONCURRENCY,
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    code.ENV_TARGET_ID: args.target_id,
                    code.ENV_FILTER_ID: args.filter_id,
                    code.ENV_VNI: pulumi.Output.from_input(args.vni).apply(str),
                    code.ENV_SESSION_NUMBER: str(args.session_number),
                    code.ENV_SOURCE_TAGS: json.dumps(args.source_tags, sort_keys=True),
                    code.ENV_STACK: args.stack,
                    code.ENV_MANAGED_TAG_KEY: MANAGED_TAG_KEY,
                    code.ENV_MANAGED_TAG_VALUE: managed_value,
                    code.ENV_DESCRIPTION: args.description,
                    code.ENV_METHOD: args.method,
                    code.ENV_MUTATION_RATE: format(args.mutation_rate, "g"),
                }
            ),
            dead_letter_config=aws.lambda_.FunctionDeadLetterConfigArgs(target_arn=self.dead_letters.arn),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=self.log_group.name),
            tags=args.tags,
            # The role's policy first: a first invocation without it would fail and alarm.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy]),
        )
        # The schedule is the retry: a failed reconcile is not run again beside the next one (the
        # rate split assumes one reconcile at a time); its event goes to the dead-letter queue.
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-enrolment-async",
            function_name=self.function.name,
            maximum_retry_attempts=0,
            opts=child,
        )
        running = aws.cloudwatch.EventRule(
            f"{name}-enrolment-running",
            description="EC2 instance entered running: give it a traffic mirror session if it is a source",
            event_pattern=json.dumps(
                {
                    "source": ["aws.ec2"],
                    "detail-type": [code.STATE_CHANGE],
                    "detail": {"state": ["running"]},
                },
                sort_keys=True,
            ),
            tags=args.tags,
            opts=child,
        )
        events_policy = aws.sqs.QueuePolicy(
            f"{name}-enrolment-events-policy",
            queue_url=self.events.url,
            policy=pulumi.Output.all(self.events.arn, running.arn).apply(
                lambda v: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "RunningEventsOfThisRuleOnly",
                                "Effect": "Allow",
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": "sqs:SendMessage",
                                "Resource": v[0],
                                "Condition": {"ArnEquals": {"aws:SourceArn": v[1]}},
                            }
                        ],
                    },
                    sort_keys=True,
                )
            ),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-enrolment-running-target",
            rule=running.name,
            arn=self.events.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[events_policy]),
        )
        self.event_mapping = aws.lambda_.EventSourceMapping(
            f"{name}-enrolment-events-mapping",
            event_source_arn=self.events.arn,
            function_name=self.function.arn,
            batch_size=EVENT_BATCH_SIZE,
            maximum_batching_window_in_seconds=EVENT_BATCH_WINDOW_SECONDS,
            # AWS's smallest maximum; the reserved concurrency caps it further.
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=2),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy]),
        )
        reconcile = aws.cloudwatch.EventRule(
            f"{name}-enrolment-reconcile",
            description="Reconcile traffic mirror sessions with the tagged instances",
            schedule_expression=RECONCILE_SCHEDULE,
            tags=args.tags,
            opts=child,
        )
        permission = aws.lambda_.Permission(
            f"{name}-enrolment-reconcile-invoke",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="events.amazonaws.com",
            source_arn=reconcile.arn,
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-enrolment-reconcile-target",
            rule=reconcile.name,
            arn=self.function.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        # The function's metric line (code.metric_line) as CloudWatch metrics, per stack.
        self.metric_filters = [
            aws.cloudwatch.LogMetricFilter(
                f"{name}-enrolment-{metric.removeprefix('Enrolment').lower()}-metric",
                log_group_name=self.log_group.name,
                pattern=f"{{ $.{metric} >= 0 }}",
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=metric,
                    namespace=code.METRIC_NAMESPACE,
                    value=f"$.{metric}",
                    dimensions={code.METRIC_DIMENSION: f"$.{code.METRIC_DIMENSION}"},
                    unit="Count",
                ),
                opts=child,
            )
            for metric in (code.PENDING_METRIC, code.FAILED_METRIC)
        ]
        self._name = name
        self._stack = args.stack
        self._tags = args.tags
        self.register_outputs({"enrolment_function_name": self.function.name})

    @property
    def alarm_dimensions(self) -> dict[str, dict[str, pulumi.Input[str]]]:
        """The dimensions of ENROLMENT_ALARMS (components/alarms.py): this function and its dead letters."""
        return {
            "function": {"FunctionName": self.function.name},
            "queue": {"QueueName": self.dead_letters.name},
        }

    def pending_alarm(self, topic_arn: pulumi.Input[str] | None) -> aws.cloudwatch.MetricAlarm:
        """The alarm for sources left pending for an hour, to the stack's alarm topic if it has one.

        A method, not a constructor argument: the topic belongs to the stack's alarms, which are
        built after this component (they watch its function and queue).
        """
        actions = [topic_arn] if topic_arn is not None else []
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-enrolment-pending",
            name=f"wallarm-mirror-{self._stack}-enrolment-pending",
            alarm_description=(
                "Tagged instances have waited over an hour for a traffic mirror session: the enrolment"
                " function keeps deferring them (deadline or EC2 throttling); see its log's summary lines."
            ),
            namespace=code.METRIC_NAMESPACE,
            metric_name=code.PENDING_METRIC,
            dimensions={code.METRIC_DIMENSION: self._stack},
            statistic="Minimum",
            comparison_operator="GreaterThanThreshold",
            threshold=0,
            period=PENDING_ALARM_PERIOD_SECONDS,
            evaluation_periods=PENDING_ALARM_PERIODS,
            datapoints_to_alarm=PENDING_ALARM_PERIODS,
            # No reconcile ran: the errors alarm speaks for that, not this one.
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
