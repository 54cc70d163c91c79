"""What a Wallarm node is allowed to do: its IAM role, and the stored node token it may read."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ..config import TokenDelivery
from .resolve import ResolvedArgs
from .tags import assume_role_policy, item_name_fragment, name_fragment

TOKEN_RECOVERY_WINDOW_DAYS = 7


@dataclass(frozen=True)
class NodeIdentityArgs:
    stack: str
    partition: pulumi.Input[str]
    token: pulumi.Output[str]  # a Pulumi secret
    token_delivery: TokenDelivery
    token_kms_key_arn: pulumi.Input[str] | None
    extra_policy_arns: list[pulumi.Input[str]]
    tags: dict[str, str]


def _token_read_policy(store_arn: str, delivery: TokenDelivery, kms_key_arn: str | None) -> str:
    """Least privilege: read this one secret or parameter, decrypt with this one key via that service."""
    service, action = (
        ("secretsmanager", "secretsmanager:GetSecretValue")
        if delivery == "secretsManager"
        else ("ssm", "ssm:GetParameter")
    )
    statements: list[dict[str, object]] = [
        {"Sid": "ReadNodeToken", "Effect": "Allow", "Action": action, "Resource": store_arn}
    ]
    if kms_key_arn:
        region = store_arn.split(":")[3]
        statements.append(
            {
                "Sid": "DecryptNodeToken",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


class NodeIdentity(pulumi.ComponentResource):
    """Creates the node IAM role and instance profile (SSM Session Manager instead of SSH, read access
    to the node token only, optional extra policies) and, unless the token goes in user data, the
    Secrets Manager secret or SSM SecureString parameter that holds it."""

    def __init__(self, name: str, args: NodeIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("wallarm:mirror:NodeIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.role = aws.iam.Role(
            f"{name}-node-role",
            description="Wallarm mirror nodes",
            assume_role_policy=assume_role_policy("ec2.amazonaws.com"),
            tags=args.tags,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-ssm-core",
            role=self.role.name,
            policy_arn=pulumi.Output.concat("arn:", args.partition, ":iam::aws:policy/AmazonSSMManagedInstanceCore"),
            opts=child,
        )
        for index, arn in enumerate(args.extra_policy_arns):
            # The path alone is not unique: arn:aws:iam::aws:policy/X and <account>:policy/X differ.
            fragment = (
                name_fragment(arn, shown=arn.split(":", 5)[-1])
                if isinstance(arn, str)
                else item_name_fragment(arn, index, "policy")
            )
            aws.iam.RolePolicyAttachment(
                f"{name}-extra-{fragment}",
                role=self.role.name,
                policy_arn=arn,
                opts=child,
            )

        # The ARN of the secret or parameter that holds the token; None when it travels in user data.
        self.token_store_arn: pulumi.Output[str] | None = None
        if args.token_delivery == "secretsManager":
            secret = aws.secretsmanager.Secret(
                f"{name}-token",
                description=f"Wallarm node token of the wallarm-mirror stack {args.stack}",
                kms_key_id=args.token_kms_key_arn,
                recovery_window_in_days=TOKEN_RECOVERY_WINDOW_DAYS,
                tags=args.tags,
                opts=child,
            )
            aws.secretsmanager.SecretVersion(f"{name}-token", secret_id=secret.id, secret_string=args.token, opts=child)
            self.token_store_arn = secret.arn
        elif args.token_delivery == "ssm":
            parameter = aws.ssm.Parameter(
                f"{name}-token",
                name=f"/wallarm-mirror/{args.stack}/node-token",
                description=f"Wallarm node token of the wallarm-mirror stack {args.stack}",
                type="SecureString",
                value=args.token,
                key_id=args.token_kms_key_arn,
                tags=args.tags,
                opts=child,
            )
            self.token_store_arn = parameter.arn
        if self.token_store_arn is not None:
            aws.iam.RolePolicy(
                f"{name}-read-token",
                role=self.role.id,
                # The key may be an Output of another resource (the component's args accept one).
                policy=pulumi.Output.all(self.token_store_arn, args.token_kms_key_arn).apply(
                    lambda v: _token_read_policy(v[0], args.token_delivery, v[1])
                ),
                opts=child,
            )

        self.instance_profile = aws.iam.InstanceProfile(
            f"{name}-node-profile", role=self.role.name, tags=args.tags, opts=child
        )
        self.register_outputs({"node_role_arn": self.role.arn, "instance_profile_arn": self.instance_profile.arn})


def node_identity_for(
    parent: pulumi.Resource,
    name: str,
    resolved: ResolvedArgs,
    stack: str,
    partition: pulumi.Output[str],
    token: pulumi.Output[str],
    tags: dict[str, str],
) -> NodeIdentity:
    """The node role, its instance profile and the stored token of an analyser: the same for both."""
    config = resolved.config
    return NodeIdentity(
        name,
        NodeIdentityArgs(
            stack=stack,
            partition=partition,
            token=token,
            token_delivery=config.token_delivery,
            token_kms_key_arn=resolved.value("token_kms_key_arn"),
            extra_policy_arns=resolved.items("extra_policy_arns"),
            tags=tags,
        ),
        pulumi.ResourceOptions(parent=parent),
    )
