"""The enrolment Lambda: keeps a traffic mirror session on every instance that carries the source tags."""

from __future__ import annotations

import json
from dataclasses import dataclass

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
# A reconcile pages through instances and sessions; a minute is ample, two leave room for retries.
TIMEOUT_SECONDS = 120
MANAGED_TAG_KEY = "wallarm-mirror:managed-by"


@dataclass(frozen=True)
class EnrolmentArgs:
    stack: str
    source_tags: dict[str, str]
    target_id: pulumi.Input[str]
    filter_id: pulumi.Input[str]
    vni: int
    session_number: int
    description: str
    method: str
    region: pulumi.Input[str]
    account: pulumi.Input[str]
    partition: pulumi.Input[str]
    tags: dict[str, str]


class TrafficMirrorEnrolment(pulumi.ComponentResource):
    """Creates the enrolment function (boto3 only, least-privilege role, its own log group with
    retention, a dead-letter queue), run by EventBridge when an instance enters `running` and on a
    schedule that reconciles (creates missing sessions, deletes those whose interface is gone)."""

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

        def policy(values: list[str]) -> str:
            region, account, target, mirror_filter, log_group_arn, queue_arn = values
            document = enrolment_policy(region, account, target, mirror_filter, MANAGED_TAG_KEY, managed_value)
            document["Statement"] += [
                # Its own log group only: no logs:CreateLogGroup, so it cannot log anywhere else.
                {
                    "Sid": "WriteOwnLogs",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{log_group_arn}:*",
                },
                {"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn},
            ]
            return json.dumps(document, sort_keys=True)

        self.policy = aws.iam.RolePolicy(
            f"{name}-enrolment-policy",
            role=self.role.id,
            policy=pulumi.Output.all(
                args.region, args.account, args.target_id, args.filter_id, self.log_group.arn, self.dead_letters.arn
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
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    code.ENV_TARGET_ID: args.target_id,
                    code.ENV_FILTER_ID: args.filter_id,
                    code.ENV_VNI: str(args.vni),
                    code.ENV_SESSION_NUMBER: str(args.session_number),
                    code.ENV_SOURCE_TAGS: json.dumps(args.source_tags, sort_keys=True),
                    code.ENV_STACK: args.stack,
                    code.ENV_MANAGED_TAG_KEY: MANAGED_TAG_KEY,
                    code.ENV_MANAGED_TAG_VALUE: managed_value,
                    code.ENV_DESCRIPTION: args.description,
                    code.ENV_METHOD: args.method,
                }
            ),
            dead_letter_config=aws.lambda_.FunctionDeadLetterConfigArgs(target_arn=self.dead_letters.arn),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=self.log_group.name),
            tags=args.tags,
            # The role's policy first: a first invocation without it would fail and alarm.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy]),
        )
        rules = {
            "running": aws.cloudwatch.EventRule(
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
            ),
            "reconcile": aws.cloudwatch.EventRule(
                f"{name}-enrolment-reconcile",
                description="Reconcile traffic mirror sessions with the tagged instances",
                schedule_expression=RECONCILE_SCHEDULE,
                tags=args.tags,
                opts=child,
            ),
        }
        for kind, rule in rules.items():
            permission = aws.lambda_.Permission(
                f"{name}-enrolment-{kind}-invoke",
                action="lambda:InvokeFunction",
                function=self.function.name,
                principal="events.amazonaws.com",
                source_arn=rule.arn,
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-enrolment-{kind}-target",
                rule=rule.name,
                arn=self.function.arn,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
            )
        self.register_outputs({"enrolment_function_name": self.function.name})
