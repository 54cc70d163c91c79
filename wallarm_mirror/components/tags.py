"""Names and tags shared by every resource of a stack (pure functions)."""

from __future__ import annotations

import hashlib
import json
import re

APP = "wallarm-mirror"


def stack_tags(user_tags: dict[str, str], stack: str) -> dict[str, str]:
    """The user's tags plus the two the program owns (config refuses user keys that clash)."""
    return {**user_tags, "app": APP, "stack": stack}


def name_fragment(text: str, *, shown: str | None = None) -> str:
    """A resource-name-safe form of a CIDR, id or ARN: '10.0.0.0/16' -> '10-0-0-0-16'.

    Rules are named after what they allow instead of their list position, so removing one
    source does not rename (and so replace) the rules of the sources after it. Two inputs must
    never share a name (a duplicate URN fails the deployment): IPv4 CIDRs and security group ids
    map one to one, anything else (IPv6 CIDRs, ARNs) gets a short hash of its exact text.
    `shown` is the part of `text` to spell out (e.g. an ARN's resource path); the hash is still
    of the whole `text`.
    """
    readable = re.sub(r"[^A-Za-z0-9]+", "-", text if shown is None else shown).strip("-").lower()
    if shown is None and re.fullmatch(r"[0-9]+(\.[0-9]+){3}/[0-9]+|sg-[0-9a-f]+", text):
        return readable
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def assume_role_policy(service: str) -> str:
    """The trust policy of a role that only `service` (ec2.amazonaws.com, lambda.amazonaws.com) assumes."""
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def item_name_fragment(item: object, index: int, kind: str) -> str:
    """name_fragment of a known item; for an Output (its value unknown until deploy), `kind-output-N`.

    An Output item is named after its position in the list: a program that passes Outputs keeps its
    order, and removing one renames (and so replaces) the resources of the Output items after it.
    """
    return name_fragment(item) if isinstance(item, str) else f"{kind}-output-{index}"
