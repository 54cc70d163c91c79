"""The node token: stored as a secret, readable by the node role alone, never in plain text anywhere."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from pulumi.runtime import rpc

from tests.conftest import DEV, TOKEN, script_and_files
from wallarm_mirror.offline.engine import OfflineRun, unwrap

KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"


def plain_text_places(value, path: str = "") -> list[str]:
    """Where the token appears outside a secret wrapper (also inside base64 user data)."""
    if rpc.is_rpc_secret(value):
        return []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in plain_text_places(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in plain_text_places(v, f"{path}[{i}]")]
    if isinstance(value, str):
        texts = [value]
        with contextlib.suppress(ValueError):
            texts.append(script_and_files(base64.b64decode(value, validate=True).decode()))
        return [path] if any(TOKEN in t for t in texts) else []
    return []


def token_leaks(run: OfflineRun) -> list[str]:
    leaks = [f"{r.name}{p}" for r in run.resources for p in plain_text_places(r.inputs)]
    leaks += [f"output {k}" for k, v in run.outputs.items() if TOKEN in json.dumps(v)]
    leaks += [f"log {m}" for _, m in run.log if TOKEN in m]
    return leaks


# A stack that stores the token (tokenDelivery added), with a node group, which reaches the boot
# script (WALLARM_LABELS) for the leak test to read too; the other tests of a stored token read the
# same run.
STORED = {**DEV, "nodeGroup": "edge"}


@pytest.mark.parametrize("delivery", ["secretsManager", "ssm"])
def test_token_appears_nowhere_in_plain_text(run_stack, delivery):
    run = run_stack(STORED, tokenDelivery=delivery)
    assert token_leaks(run) == []


@pytest.mark.parametrize("delivery", ["secretsManager", "ssm"])
def test_user_data_holds_no_token_and_is_not_secret(run_stack, delivery):
    run = run_stack(STORED, tokenDelivery=delivery)
    user_data = run.only("LaunchTemplate").inputs["userData"]
    assert not rpc.is_rpc_secret(user_data)  # reviewable in plans, because there is nothing secret in it
    assert TOKEN not in base64.b64decode(user_data).decode()


def test_leak_detector_finds_a_token_in_user_data(run_stack):
    """The detector above must be able to fail: with userData delivery the token is inside (as a secret)."""
    run = run_stack(DEV, tokenDelivery="userData")
    user_data = run.only("LaunchTemplate").inputs["userData"]
    assert plain_text_places(unwrap(user_data)) == [""]
    assert token_leaks(run) == []


def test_secrets_manager_stores_the_token_as_a_secret(run_stack):
    run = run_stack(DEV)
    version = run.only("SecretVersion").inputs
    assert rpc.is_rpc_secret(version["secretString"])
    assert unwrap(version["secretString"]) == TOKEN
    secret = run.only("Secret").inputs
    assert secret["recoveryWindowInDays"] == 7
    assert "kmsKeyId" not in secret
    assert version["secretId"] == run.outputs["token_store_arn"]
    assert run.all("Parameter") == []


def test_ssm_stores_a_secure_string_with_the_customer_key(run_stack):
    run = run_stack(DEV, tokenDelivery="ssm", tokenKmsKeyArn=KMS_KEY)
    parameter = run.only("Parameter").inputs
    assert parameter["type"] == "SecureString"
    assert parameter["name"] == "/wallarm-mirror/test/node-token"
    assert parameter["keyId"] == KMS_KEY
    assert rpc.is_rpc_secret(parameter["value"]) and unwrap(parameter["value"]) == TOKEN
    assert run.all("Secret") == [] and run.all("SecretVersion") == []


@pytest.mark.parametrize(
    ("delivery", "action", "service"),
    [("secretsManager", "secretsmanager:GetSecretValue", "secretsmanager"), ("ssm", "ssm:GetParameter", "ssm")],
)
def test_node_role_may_read_only_this_token(run_stack, delivery, action, service):
    run = run_stack(DEV, tokenDelivery=delivery, tokenKmsKeyArn=KMS_KEY)
    policy = json.loads(run.only("RolePolicy").inputs["policy"])
    read, decrypt = policy["Statement"]
    assert read == {
        "Sid": "ReadNodeToken",
        "Effect": "Allow",
        "Action": action,
        "Resource": run.outputs["token_store_arn"],
    }
    assert decrypt == {
        "Sid": "DecryptNodeToken",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": KMS_KEY,
        "Condition": {"StringEquals": {"kms:ViaService": f"{service}.eu-west-1.amazonaws.com"}},
    }


def test_without_customer_key_the_role_gets_no_kms_permission(run_stack):
    policy = json.loads(run_stack(DEV).only("RolePolicy").inputs["policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["ReadNodeToken"]


def test_user_data_delivery_creates_no_store_and_no_read_policy(run_stack):
    run = run_stack(DEV, tokenDelivery="userData")
    assert run.all("Secret") == [] and run.all("Parameter") == [] and run.all("RolePolicy") == []
    assert "token_store_arn" not in run.outputs


@pytest.mark.parametrize("delivery", ["secretsManager", "ssm"])
def test_boot_script_fetches_the_stored_token_by_arn_or_name_in_its_region(run_stack, delivery):
    run = run_stack(STORED, tokenDelivery=delivery)
    script = base64.b64decode(run.only("LaunchTemplate").inputs["userData"]).decode()
    expected = (
        f"secretsmanager {run.outputs['token_store_arn']} eu-west-1"
        if delivery == "secretsManager"
        else "ssm /wallarm-mirror/test/node-token eu-west-1"
    )
    assert f"python3 -I -S - {expected} 300 " in script
