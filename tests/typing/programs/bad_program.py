"""The same program with two mistakes a type checker must catch: a string for a number, and a
misspelt arg. tests/typing/test_public_api_types.py expects both named in mypy's output."""

import pulumi_aws as aws

from wallarm_mirror import WallarmMirror, WallarmMirrorArgs

vpc = aws.ec2.Vpc("net", cidr_block="10.0.0.0/16")

WallarmMirror(
    "waf",
    WallarmMirrorArgs(
        vpc_id=vpc.id,
        mirror_source_cidr=["10.0.16.0/20"],
        token="placeholder-token",
        min_size="2",
    ),
)
