"""The renderer: a valid spec gives a shellcheck-clean script with the stack's values; a bad one one
sentence; and the script decides aws or host for an instance type exactly as `mirror_method` does."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wallarm_mirror.host_mirror import HostScriptSpec, render_host_script
from wallarm_mirror.host_mirror.script import IFNAME_MAX, TEMPLATE, device_name, priorities
from wallarm_mirror.traffic_mirror.enrolment import UNSUPPORTED_FAMILIES, XEN_FAMILIES_UNSUPPORTED, mirror_method

NLB = "wm-dev-0123456789abcdef.elb.eu-west-1.amazonaws.com"
GOOD = HostScriptSpec(stack="dev", method="auto", vni=42, ports=(80, 8080), nlb_dns_name=NLB)
ZONES = (("euw1-az1", "10.0.1.10"), ("euw1-az2", "10.0.2.10"), ("usw2-lax1-az1", "10.0.3.10"))


def spec(**changes: Any) -> HostScriptSpec:
    return dataclasses.replace(GOOD, **changes)


@pytest.fixture(scope="module")
def shellcheck() -> str:
    found = shutil.which("shellcheck")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("shellcheck is not installed; CI must check the host mirroring script")
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    return found


@pytest.mark.parametrize(
    "rendered",
    [
        GOOD,
        spec(method="host", nlb_dns_name=None),
        spec(stack="a.very_long-stack.name", ports=(443,), vni=0),
        spec(nlb_dns_name=None, zone_addresses=ZONES),
    ],
    ids=["auto", "host-offline", "long-stack", "zone-addresses"],
)
def test_the_script_is_shellcheck_clean(shellcheck: str, tmp_path: Path, rendered: HostScriptSpec) -> None:
    script = tmp_path / "host-mirror.sh"
    script.write_text(render_host_script(rendered))
    result = subprocess.run([shellcheck, "--shell=sh", "--severity=style", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_every_placeholder_is_filled_with_the_stacks_values() -> None:
    text = render_host_script(GOOD)
    assert "@@" not in text and set(re.findall(r"@@([A-Z0-9_]+)@@", TEMPLATE.read_text()))
    assert "STACK='dev'\n" in text and "VNI=42\n" in text and "PORTS='80 8080'\n" in text
    assert f"NLB_DNS_NAME='{NLB}'" in text and "CONTROL_NAME='ssm.eu-west-1.amazonaws.com'" in text
    assert "LEASE_SECONDS=5400\n" in text and "DEV='wm-dev'\n" in text
    assert render_host_script(spec(nlb_dns_name=NLB.replace(".com", ".com.cn"))).count("amazonaws.com.cn") >= 2


def test_zone_addresses_are_rendered_as_zone_id_address_pairs() -> None:
    assert "ZONE_ADDRESSES=''\n" in render_host_script(GOOD)
    text = render_host_script(spec(zone_addresses=ZONES))
    assert "ZONE_ADDRESSES='euw1-az1=10.0.1.10 euw1-az2=10.0.2.10 usw2-lax1-az1=10.0.3.10'\n" in text


def test_the_families_are_rendered_from_the_enrolment_tables() -> None:
    text = render_host_script(GOOD)
    (unsupported,) = re.findall(r"^UNSUPPORTED_FAMILIES='([^']*)'$", text, re.M)
    (xen,) = re.findall(r"^XEN_FAMILIES='([^']*)'$", text, re.M)
    assert set(unsupported.split()) == UNSUPPORTED_FAMILIES
    assert set(xen.split()) == XEN_FAMILIES_UNSUPPORTED


def test_device_names_fit_linux_and_priorities_are_the_stacks_own() -> None:
    names = ["dev", "prod", "x" * 100, "a.b-c_d", "production-eu-west-1", "production-eu-west-2"]
    assert all(len(device_name(name)) <= IFNAME_MAX for name in names)
    assert len({device_name(name) for name in names}) == len(names)
    for name in names:
        numbers = priorities(name)
        assert len(set(numbers)) == 4 and all(20_000 <= n < 30_000 for n in numbers)
    assert priorities("dev") == priorities("dev") != priorities("prod")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"method": "aws"}, "method 'aws' never renders"),
        ({"method": "both"}, "method 'both' is not one of auto, host"),
        ({"stack": "dev stack"}, "stack 'dev stack' must be"),
        ({"stack": "dev;rm"}, "stack 'dev;rm' must be"),
        ({"stack": ""}, "stack '' must be"),
        ({"vni": -1}, "vni -1 must be"),
        ({"vni": 16_777_216}, "vni 16777216 must be"),
        ({"vni": True}, "vni True must be"),
        ({"ports": ()}, "ports () must be"),
        ({"ports": (1, 2, 3, 4, 5, 6)}, "must be a tuple of 1 to 5"),
        ({"ports": [80]}, "ports [80] must be"),
        ({"ports": (0,)}, "port 0 must be"),
        ({"ports": (65536,)}, "port 65536 must be"),
        ({"ports": (80, 80)}, "name a port twice"),
        ({"nlb_dns_name": "example.com"}, "nlb_dns_name 'example.com' must be an NLB's DNS name"),
        ({"nlb_dns_name": "x.elb.eu-west-1.amazonaws.com;reboot"}, "must be an NLB's DNS name"),
        ({"zone_addresses": (("eu-west-1a", "10.0.1.10"),)}, "zone 'eu-west-1a' must be an availability zone ID"),
        ({"zone_addresses": (("euw1-az1", "10.0.1.300"),)}, "address '10.0.1.300' of euw1-az1 must be an IPv4"),
        ({"zone_addresses": (("euw1-az1", "fd00::1"),)}, "must be an IPv4 address"),
        ({"zone_addresses": (("euw1-az1", "10.0.1.1;reboot"),)}, "must be an IPv4 address"),
        ({"zone_addresses": (("euw1-az1", "10.0.1.1"), ("euw1-az1", "10.0.1.2"))}, "name a zone twice"),
        ({"zone_addresses": [("euw1-az1", "10.0.1.1")]}, "must be a tuple of (zone ID, IPv4 address) pairs"),
        ({"zone_addresses": (("euw1-az1",),)}, "must be a (zone ID, IPv4 address) pair"),
        ({"lease_seconds": 59}, "lease_seconds 59 must be"),
        ({"lease_seconds": 10**9}, "lease_seconds 1000000000 must be"),
    ],
)
def test_a_bad_spec_is_refused_in_one_sentence(changes: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError) as raised:
        render_host_script(spec(**changes))
    message = str(raised.value)
    assert words in message
    assert message.startswith("cannot render the host mirroring script: ") and message.endswith(".")
    assert message.count(". ") == 0 and "\n" not in message


TYPES = [
    "m5.large", "m6i.large", "m6i.metal", "m5.metal", "c7g.xlarge", "c7gn.16xlarge", "r7iz.large", "t2.micro",
    "t3.micro", "t3a.nano", "m7i-flex.large", "x2iedn.xlarge", "i3.large", "i3.metal", "c4.large", "m4.large",
    "c3.large", "p5.48xlarge", "u-6tb1.metal", "a1.metal", "hpc7g.4xlarge", "m8g.medium", "c5n.18xlarge",
    "mac1.metal", "weird", "m6i", "M6I.large", "g2.2xlarge", "inf2.xlarge", "r8g.metal-24xl",
]  # fmt: skip


@pytest.mark.parametrize("method", ["auto", "host"])
def test_the_script_decides_as_mirror_method_does(tmp_path: Path, method: str) -> None:
    """Both sides of the one rule: the enrolment function's mirror_method and the script's `method`."""
    script = tmp_path / "host-mirror.sh"
    script.write_text(render_host_script(spec(method=method)))
    answers = {}
    for instance_type in TYPES:
        result = subprocess.run(
            ["sh", str(script), "method", "--instance-type", instance_type], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        answers[instance_type] = result.stdout.strip()
    assert answers == {t: mirror_method(t, method) for t in TYPES}
    assert set(answers.values()) == ({"aws", "host"} if method == "auto" else {"host"})


def test_importing_the_renderer_loads_no_pulumi() -> None:
    probe = "import sys, wallarm_mirror.host_mirror; print(sorted(m for m in sys.modules if m.startswith('pulumi')))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
