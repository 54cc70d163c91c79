"""The S3 bucket that receives the mirror ALB's access logs, when the stack creates it."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# Regions opened before August 2022 deliver ALB logs from these Elastic Load Balancing accounts;
# newer regions use the log-delivery service principal instead (AWS ALB access-log docs).
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
}
LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"


def log_delivery_principal(region: str, partition: str = "aws") -> dict[str, str]:
    """Who writes ALB access logs in a region: the regional ELB account, else the service principal."""
    account = ELB_LOG_ACCOUNTS.get(region)
    return {"AWS": f"arn:{partition}:iam::{account}:root"} if account else {"Service": LOG_DELIVERY_SERVICE}


def access_log_bucket_policy(bucket_arn: str, prefix: str, account: str, region: str, partition: str) -> str:
    """Let ELB write under <prefix>/AWSLogs/<account>/ only, and refuse anything but TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AlbAccessLogDelivery",
                    "Effect": "Allow",
                    "Principal": log_delivery_principal(region, partition),
                    "Action": "s3:PutObject",
                    "Resource": f"{bucket_arn}/{prefix + '/' if prefix else ''}AWSLogs/{account}/*",
                },
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


@dataclass(frozen=True)
class AccessLogsArgs:
    prefix: str
    retention_days: int
    account: pulumi.Input[str]
    region: pulumi.Input[str]
    partition: pulumi.Input[str]
    tags: dict[str, str]


class AccessLogsBucket(pulumi.ComponentResource):
    """Creates a private S3 bucket for ALB access logs: public access blocked, owner-enforced objects,
    SSE-S3 encryption (the only kind ALB log delivery supports), expiry after the retention days,
    and a policy that lets only ELB log delivery write, over TLS."""

    def __init__(self, name: str, args: AccessLogsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wallarm:mirror:AccessLogsBucket", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(f"{name}-access-logs", force_destroy=False, tags=args.tags, opts=child)
        block = aws.s3.BucketPublicAccessBlock(
            f"{name}-access-logs",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-access-logs",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-access-logs",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-access-logs",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=args.retention_days),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=child,
        )
        self.policy = aws.s3.BucketPolicy(
            f"{name}-access-logs",
            bucket=self.bucket.id,
            policy=pulumi.Output.all(self.bucket.arn, args.account, args.region, args.partition).apply(
                lambda v: access_log_bucket_policy(v[0], args.prefix, v[1], v[2], v[3])
            ),
            # A public-access block set after the policy could reject it as public; order them.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[block]),
        )
        self.register_outputs({"bucket": self.bucket.id})
