"""The same program with three mistakes a type checker must catch: a string for a number, a
misspelt arg, and an arg of the other analyser on a per-analyser component.
tests/typing/test_public_api_types.py expects each named in mypy's output."""

import pulumi_aws as aws

from wallarm_mirror import NginxAnalyser, NginxAnalyserArgs, WallarmMirror, WallarmMirrorArgs

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

NginxAnalyser(
    "nginx",
    NginxAnalyserArgs(
        vpc_id=vpc.id,
        alb_subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        token="placeholder-token",
        traffic_mirror_ports=[80],
    ),
)
