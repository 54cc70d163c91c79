"""What a stack's nodes run at first boot, as pure functions of the config (no Pulumi import)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import NAMESPACE, StackConfig
from ..node.boot_script import (
    BootScriptSpec,
    ServingCheck,
    TokenFromSecretsManager,
    TokenFromSsmParameter,
    TokenInline,
    TokenSource,
    encode_user_data,
    render_boot_script,
)
from ..node.snippets import node_http_snippet, node_server_snippet, trusted_proxy_cidrs

if TYPE_CHECKING:
    import pulumi
    import pulumi_aws as aws

# What AWS may hand back at deploy time, at its longest: the preflight renders with these so a
# boot script that would not fit is refused before any resource exists.
_LONGEST_STORE_ARNS = {
    "secretsManager": "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:" + "x" * 200 + "-AbCdEf",
    # /wallarm-mirror/<stack>/node-token, with a stack name at Pulumi's 100-character limit.
    "ssm": "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/wallarm-mirror/" + "x" * 100 + "/node-token",
}
_MANY_VPC_CIDRS = [f"10.{i}.0.0/16" for i in range(5)] + [f"2600:1f18:{i:x}::/56" for i in range(5)]


# The config keys whose text goes into the NGINX node's boot script as it is (snippets, post script).
BOOT_TEXT_FIELDS = ("global_snippet", "http_snippet", "server_snippet", "post_script")


def vpc_cidrs(vpc: aws.ec2.GetVpcResult) -> list[str]:
    """Every IPv4 and IPv6 range of the VPC: the ALB and the web tier send from these."""
    ipv4 = [a.cidr_block for a in vpc.cidr_block_associations or []] or [vpc.cidr_block]
    return [*ipv4, *(a.ipv6_cidr_block for a in vpc.ipv6_cidr_block_associations or [] if a.ipv6_cidr_block)]


def boot_spec(config: StackConfig, trusted_cidrs: list[str], token: TokenSource) -> BootScriptSpec:
    """What the first-boot script of this stack's nodes must do (a pure function of the config)."""
    profile = config.profile
    return BootScriptSpec(
        cloud_init_path=profile.cloud_init_path,
        preset=profile.preset,
        mode=config.mode,
        api_host=config.api_host,
        libdetection=config.libdetection,
        global_snippet=config.global_snippet,
        http_snippet=node_http_snippet(
            profile, config.effective_health_check_port, config.effective_health_check_path, config.http_snippet
        ),
        server_snippet=node_server_snippet(profile, config.effective_node_port, trusted_cidrs, config.server_snippet),
        post_script=config.post_script,
        token=token,
        node_group=config.node_group,
        # After configuring, the node checks it serves what our target group expects, or stops nginx.
        serving_check=ServingCheck(
            config.effective_node_port, config.effective_health_check_port, config.effective_health_check_path
        ),
    )


def stored_token_source(delivery: str, store_arn: str) -> TokenSource:
    """Where the boot script fetches the token: the secret by ARN, the parameter by name, in its region."""
    region = store_arn.split(":")[3]
    if delivery == "secretsManager":
        return TokenFromSecretsManager(secret_id=store_arn, region=region)
    # arn:aws:ssm:<region>:<account>:parameter/wallarm-mirror/dev/node-token -> /wallarm-mirror/dev/node-token
    return TokenFromSsmParameter(name=store_arn.split(":parameter", 1)[1], region=region)


def token_source(
    delivery: str, store_arn: pulumi.Output[str] | None, token: pulumi.Output[str]
) -> pulumi.Output[TokenSource]:
    """Where a node gets the token at boot: the stored secret or parameter, else the token itself
    (then the Output, and the boot script rendered from it, stay secret)."""
    if store_arn is None:
        return token.apply(TokenInline)
    return store_arn.apply(lambda arn: stored_token_source(delivery, arn))


def boot_script_problems(config: StackConfig) -> list[str]:
    """Problems the boot script would hit at deploy time (size above all), found from the config alone."""
    # The config requires a token of every analyser that boots nodes (a spoke has none, and no boot script).
    assert config.token is not None, "boot_script_problems is for the analysers that run nodes"
    token: TokenSource = (
        TokenInline(config.token.get_secret_value())
        if config.token_delivery == "userData"
        else stored_token_source(config.token_delivery, _LONGEST_STORE_ARNS[config.token_delivery])
    )
    cidrs = trusted_proxy_cidrs(_MANY_VPC_CIDRS, config.mirror_source_cidrs)
    try:
        encode_user_data(render_boot_script(boot_spec(config, cidrs, token)))
    except ValueError as error:
        blamed = [StackConfig.model_fields[name].alias for name in BOOT_TEXT_FIELDS]
        if config.token_delivery == "userData":
            blamed.append("token")  # the token is inside the script too
        keys = ", ".join(f"{NAMESPACE}:{k}" for k in blamed)
        return [f"{keys}: {error}"]
    return []
