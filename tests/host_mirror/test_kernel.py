"""The rendered script on the real kernel: a veth "web host" in network namespaces (see lab.py).

The module's tests share one lab (per worker), which the `make_lab` fixture resets and checks clean
before each test. A test runs the script as a host would (as root, in a mount namespace whose /run,
/var/lib, /etc/hosts and /etc/resolv.conf are the lab's) and checks what a UDP 4789 receiver standing
in for the NLB got, decoded down to TCP: every copy the filters' counters say they made.
Skipped with a reason where namespaces cannot be made; under CI=true that is a failure.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.host_mirror.conftest import CONTROL, NLB_NAME, STACK, VNI, write_script
from tests.host_mirror.lab import APP_PORT, BIG, CLIENT_IP, NLB_IP, NLB_IP_2, OTHER_PORT, WEB_IP, WEB_IP6, Lab
from tests.host_mirror.vxlan import copies, streams
from wallarm_mirror.host_mirror.script import device_name, priorities

DEV = device_name(STACK)
PRIORITIES = priorities(STACK)


def one_sentence(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {stderr!r}"
    return lines[0]


def applied(lab: Lab, script: Path, *args: str) -> str:
    result = lab.script(script, "apply", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_copies_requests_and_responses_whole_with_the_stacks_vni(lab: Lab) -> None:
    script = write_script(lab.root)
    applied(lab, script, "--remote", NLB_IP)
    receiver = lab.receive(DEV)
    lab.fetch(f"http://{WEB_IP}:{APP_PORT}/big.bin", out=str(lab.root / "got.bin"))
    lab.stop_receiving(receiver)
    assert (lab.root / "got.bin").read_bytes() == lab.big  # the site answered as before
    found, other = copies(lab.received)
    assert other == 0
    assert {copy.vni for copy in found} == {VNI}
    # the outer source is the host's own address (the NLB keeps one host's copies on one node by it)
    assert {copy.sender for copy in found} == {WEB_IP}
    by_direction = streams(found)
    (request,) = (data for (src, _, dst, dport), data in by_direction.items() if dst == WEB_IP and dport == APP_PORT)
    assert request.startswith(b"GET /big.bin HTTP/1.1\r\n")
    (response,) = (data for (src, sport, _, _), data in by_direction.items() if src == WEB_IP and sport == APP_PORT)
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") and body == lab.big and len(body) == BIG


def test_other_ports_stay_out_and_ipv6_is_copied_too(lab: Lab) -> None:
    script = write_script(lab.root)
    applied(lab, script, "--remote", NLB_IP)
    receiver = lab.receive(DEV)
    lab.fetch(f"http://{WEB_IP}:{OTHER_PORT}/big.bin")
    lab.fetch(f"http://[{WEB_IP6}]:{APP_PORT}/small.txt")
    lab.stop_receiving(receiver)
    found, other = copies(lab.received)
    assert other == 0
    assert found, "nothing was copied"
    assert all(APP_PORT in (copy.sport, copy.dport) for copy in found)
    assert {copy.ip_version for copy in found} == {6}
    responses = [data for (src, sport, _, _), data in streams(found).items() if sport == APP_PORT]
    assert responses and responses[0].endswith(b"hello from the web host\n")


def our_filters(lab: Lab) -> list[str]:
    state = lab.web_state()
    return [line for line in state.splitlines() if f"Mirror to device {DEV})" in line]


def all_filters(lab: Lab) -> int:
    return len(re.findall(r" fh [0-9a-f]+::", lab.web_state()))


def test_apply_twice_leaves_one_set_of_filters(lab: Lab) -> None:
    script = write_script(lab.root, ports=(8080, 8443))
    applied(lab, script, "--remote", NLB_IP)
    first = lab.web_state()
    second = applied(lab, script, "--remote", NLB_IP)
    assert "already applied" in second
    assert lab.web_state() == first
    # per port: ingress and egress, IPv4 and IPv6
    assert len(our_filters(lab)) == all_filters(lab) == 2 * 2 * 2
    vxlan_devices = lab.ip("-o", "link", "show", "type", "vxlan").splitlines()
    assert sum(f" {DEV}:" in line for line in vxlan_devices) == 1


def test_reapplying_with_another_remote_moves_the_copies(lab: Lab) -> None:
    script = write_script(lab.root)
    applied(lab, script, "--remote", NLB_IP)
    applied(lab, script, "--remote", NLB_IP_2)
    details = lab.ip("-d", "link", "show", DEV)
    assert f"remote {NLB_IP_2} " in details and f"id {VNI} " in details and "dstport 4789" in details
    assert len(our_filters(lab)) == all_filters(lab) == 4
    receiver = lab.receive(DEV)
    lab.fetch(f"http://{WEB_IP}:{APP_PORT}/small.txt")
    lab.stop_receiving(receiver)
    found, _ = copies(lab.received)
    assert found and {copy.receiver for copy in found} == {1}  # index 1: NLB_IP_2


def test_guard_repairs_drift_a_deleted_device(lab: Lab) -> None:
    script = write_script(lab.root)
    lab.write_hosts({NLB_NAME: NLB_IP, CONTROL: "10.0.0.2"})
    applied(lab, script, "--remote", NLB_IP)
    first = lab.web_state()
    lab.ip("link", "del", DEV)  # the filters now mirror to "device *"
    repaired = lab.script(script, "guard")
    assert repaired.returncode == 0, repaired.stderr
    assert re.sub(r"index \d+ ", "", lab.web_state()) == re.sub(r"index \d+ ", "", first)
    assert len(our_filters(lab)) == all_filters(lab) == 4


def add_foreign_set_up(lab: Lab) -> None:
    """What another tool (Cilium, a traffic shaper) had before us: the clsact qdisc and a filter of
    its own in each direction, after ours, that sees the same TCP packets (and mirrors them elsewhere).
    Different priorities per direction, so each direction's listing shows only its own filter."""
    lab.ns(
        lab.web,
        "ip link add f0 type veth peer name f1 && ip link set f0 up && ip link set f1 up && "
        "tc qdisc add dev w0 clsact && "
        "tc filter add dev w0 ingress pref 40000 protocol ip u32 match ip protocol 6 0xff "
        "action mirred egress mirror dev f0 && "
        "tc filter add dev w0 egress pref 40001 protocol ip u32 match ip protocol 6 0xff "
        "action mirred egress mirror dev f0",
    )


def foreign_packets(lab: Lab) -> tuple[int, int]:
    """Packets the foreign filters matched: (ingress, egress)."""
    counts = []
    for direction in ("ingress", "egress"):
        shown = lab.tc("-s", f"filter show dev w0 {direction}")
        match = re.search(r"Mirror to device f0\).*?Sent \d+ bytes (\d+) pkt", shown, re.S)
        assert match, shown
        counts.append(int(match.group(1)))
    return counts[0], counts[1]


def test_a_foreign_filter_and_qdisc_stay_and_keep_seeing_packets(lab: Lab) -> None:
    add_foreign_set_up(lab)
    before = lab.web_state()
    script = write_script(lab.root)
    applied(lab, script, "--remote", NLB_IP)
    assert "Mirror to device f0)" in lab.web_state()
    seen_in, seen_out = foreign_packets(lab)
    lab.fetch(f"http://{WEB_IP}:{APP_PORT}/big.bin")
    # our filters run first (lower priority number) and `continue`: the foreign ones still see them
    now_in, now_out = foreign_packets(lab)
    assert now_in > seen_in + 5 and now_out > seen_out + 20
    removed = lab.script(script, "remove")
    assert removed.returncode == 0, removed.stderr
    after = lab.web_state()
    assert after.replace(" \n", "\n") == before.replace(" \n", "\n")
    assert "qdisc clsact" in after and "Mirror to device f0)" in after


def test_another_tools_filter_at_our_priority_is_refused_not_deleted(lab: Lab) -> None:
    lab.ns(
        lab.web,
        f"tc qdisc add dev w0 clsact && tc filter add dev w0 egress pref {PRIORITIES[2]} protocol ip u32 "
        "match ip protocol 17 0xff action mirred egress mirror dev w1",
    )
    before = lab.web_state()
    script = write_script(lab.root)
    result = lab.script(script, "apply", "--remote", NLB_IP)
    assert result.returncode == 1
    assert f"egress priority {PRIORITIES[2]} on w0 holds another tool's filters" in one_sentence(result.stderr)
    assert lab.script(script, "remove").returncode == 0
    assert lab.web_state() == before


def test_a_clsact_qdisc_it_did_not_add_stays_even_when_bare(lab: Lab) -> None:
    """Another tool's clsact without classic filters (tcx programs do not show in `tc filter`)."""
    lab.ns(lab.web, "tc qdisc add dev w0 clsact")
    before = lab.web_state()
    script = write_script(lab.root)
    applied(lab, script, "--remote", NLB_IP)
    assert lab.script(script, "remove").returncode == 0
    assert lab.web_state() == before and "qdisc clsact" in before


def test_a_clsact_qdisc_it_added_stays_while_another_tool_filters_on_it(lab: Lab) -> None:
    """Deleting the qdisc deletes every filter on it: remove takes the qdisc it added only when no
    filter but its own was on it, so another tool's filter added after our apply is kept."""
    before = lab.web_state()
    assert "qdisc clsact" not in before
    script = write_script(lab.root)
    applied(lab, script, "--remote", NLB_IP)
    foreign = "protocol ip u32 match ip protocol 17 0xff action mirred egress mirror dev w1"
    lab.ns(lab.web, f"tc filter add dev w0 egress pref 7 {foreign}")
    removed = lab.script(script, "remove")
    assert removed.returncode == 0, removed.stderr
    after = lab.web_state()
    assert "qdisc clsact" in after and "pref 7 u32" in after, after
    assert DEV not in after and not any(f"pref {priority} " in after for priority in PRIORITIES), after


def test_remove_leaves_nothing_of_its_own(lab: Lab) -> None:
    before = lab.web_state()
    script = write_script(lab.root)
    applied(lab, script, "--remote", NLB_IP)
    during = lab.web_state()
    assert "qdisc clsact" in during and DEV in during
    removed = lab.script(script, "remove")
    assert removed.returncode == 0, removed.stderr
    assert lab.web_state() == before
    # only the lock file stays (uninstall takes it too)
    left = [path.name for path in (lab.root / "run").rglob("*") if path.is_file()]
    assert left == [f"{STACK}.lock"]


def test_refuses_a_missing_interface_and_changes_nothing(lab: Lab) -> None:
    before = lab.web_state()
    result = lab.script(write_script(lab.root), "apply", "--interface", "eth9", "--remote", NLB_IP)
    assert result.returncode == 1
    assert one_sentence(result.stderr).startswith(f"wallarm-host-mirror[{STACK}]: interface eth9 does not exist;")
    assert lab.web_state() == before


def test_refuses_a_default_route_interface_whose_name_tc_would_misread(lab: Lab) -> None:
    """The interface name goes into tc's batch input, where # starts a comment: a default route's
    interface named so (the kernel allows it) is refused, as --interface refuses it, and nothing changes."""
    lab.ns(
        lab.web,
        "ip link add 'd#1' type veth peer name 'd#2' && ip link set 'd#1' up && ip link set 'd#2' up && "
        "ip route replace default dev 'd#1'",
    )
    try:
        before = lab.web_state()
        for command in ("apply", "remove"):
            result = lab.script(write_script(lab.root), command, "--remote", NLB_IP)
            assert result.returncode == 1, (command, result.stderr)
            assert one_sentence(result.stderr) == (
                f"wallarm-host-mirror[{STACK}]: the default route's interface d#1 has a name this script does not "
                "take; pass --interface."
            )
            assert lab.web_state() == before
    finally:
        lab.ns(lab.web, "ip link del 'd#1'")


def test_refuses_to_run_as_an_ordinary_user(lab: Lab) -> None:
    result = lab.script(write_script(lab.root), "apply", "--remote", NLB_IP, as_nobody=True)
    assert result.returncode == 1
    assert "apply must run as root" in one_sentence(result.stderr)


def test_an_offline_copy_needs_the_remote(lab: Lab) -> None:
    before = lab.web_state()
    result = lab.script(write_script(lab.root, nlb_dns_name=None), "apply")
    assert result.returncode == 1
    assert "printed offline" in one_sentence(result.stderr) and "--remote" in result.stderr
    assert lab.web_state() == before


def test_refuses_unknown_commands_and_options(lab: Lab) -> None:
    script = write_script(lab.root)
    for args in (("mirror",), ("apply", "--interfaces", "w0"), ("apply", "--remote"), ("apply", "--remote", "10.1.2")):
        result = lab.script(script, *args)
        assert result.returncode == 2, args
        one_sentence(result.stderr)


@pytest.mark.parametrize(
    ("tool", "word", "error", "named"),
    [
        ("tc", "clsact", "Error: Specified qdisc kind is unknown.", "the clsact qdisc (sch_ingress)"),
        ("tc", "u32", "Error: TC classifier not found.", "the u32 classifier (cls_u32)"),
        ("tc", "mirred", "Error: Failed to load TC action module.", "the mirred action (act_mirred)"),
        ("ip", "vxlan", "Error: Unknown device type.", "vxlan devices (vxlan)"),
    ],
)
def test_refuses_a_kernel_without_a_feature(lab: Lab, tool: str, word: str, error: str, named: str) -> None:
    """A tool that answers as a kernel without the feature does (the kernel's own messages): the probe
    (in a throwaway namespace) names what is missing before anything on the host changes."""
    fake = lab.root / "bin" / tool
    fake.write_text(
        f'#!/bin/sh\ncase "$*" in *{word}*) echo "{error}" >&2; exit 2 ;; esac\nexec /usr/sbin/{tool} "$@"\n'
    )
    fake.chmod(0o755)
    before = lab.web_state()
    result = lab.script(write_script(lab.root), "apply", "--remote", NLB_IP, path_prefix=lab.root / "bin")
    assert result.returncode == 1
    assert f"this kernel lacks {named}, which host mirroring needs" in one_sentence(result.stderr)
    assert lab.web_state() == before


def test_the_nlb_node_of_the_hosts_zone_is_chosen(lab: Lab) -> None:
    lab.imds(zone="eu-west-1b")
    lab.write_hosts({NLB_NAME: NLB_IP, f"eu-west-1b.{NLB_NAME}": NLB_IP_2, f"eu-west-1a.{NLB_NAME}": NLB_IP})
    output = applied(lab, write_script(lab.root))
    assert f"go to {NLB_IP_2}:4789" in output
    assert f"remote {NLB_IP_2} " in lab.ip("-d", "link", "show", DEV)


def test_without_a_zonal_name_the_regional_one_is_used_and_said(lab: Lab) -> None:
    lab.imds(zone="eu-west-1c")
    lab.write_hosts({NLB_NAME: NLB_IP})
    output = applied(lab, write_script(lab.root))
    assert f"no NLB node answers as eu-west-1c.{NLB_NAME}" in output and "copies may cross zones" in output
    assert f"go to {NLB_IP}:4789" in output


def test_the_address_in_use_is_kept_while_the_name_still_returns_it(lab: Lab) -> None:
    lab.imds(zone="eu-west-1c")
    script = write_script(lab.root)
    applied(lab, script, "--remote", NLB_IP_2)
    (lab.root / "hosts").write_text(f"{NLB_IP} {NLB_NAME}\n{NLB_IP_2} {NLB_NAME}\n")  # both nodes, this one first
    assert "already applied" in applied(lab, script)
    assert f"remote {NLB_IP_2} " in lab.ip("-d", "link", "show", DEV)
    (lab.root / "hosts").write_text(f"{NLB_IP} {NLB_NAME}\n")  # the node in use left the name: move
    assert f"go to {NLB_IP}:4789" in applied(lab, script)
    assert f"remote {NLB_IP} " in lab.ip("-d", "link", "show", DEV)


def test_the_address_of_the_hosts_zone_id_is_preferred_over_the_names(lab: Lab) -> None:
    """A hub's nlb_zone_addresses: the zone ID names one physical zone in every account, the name does not."""
    lab.imds(zone="eu-west-1b", zone_id="euw1-az3")
    lab.write_hosts({NLB_NAME: NLB_IP, f"eu-west-1b.{NLB_NAME}": NLB_IP})
    script = write_script(lab.root, zone_addresses=(("euw1-az1", NLB_IP), ("euw1-az3", NLB_IP_2)))
    output = applied(lab, script)
    assert f"go to {NLB_IP_2}:4789" in output
    assert f"remote {NLB_IP_2} " in lab.ip("-d", "link", "show", DEV)


def test_a_zone_id_without_an_address_falls_back_to_the_zonal_name_and_says_so(lab: Lab) -> None:
    lab.imds(zone="eu-west-1b", zone_id="euw1-az2")
    lab.write_hosts({NLB_NAME: NLB_IP, f"eu-west-1b.{NLB_NAME}": NLB_IP_2})
    output = applied(lab, write_script(lab.root, zone_addresses=(("euw1-az1", NLB_IP),)))
    assert "the NLB has no node listed for this host's zone euw1-az2" in output
    assert f"go to {NLB_IP_2}:4789" in output


def test_with_addresses_and_no_name_a_listed_address_is_used(lab: Lab) -> None:
    """A spoke's script may carry the hub's addresses only; an IMDS without zone IDs still gets a node."""
    lab.imds(zone="eu-west-1b")
    script = write_script(lab.root, nlb_dns_name=None, zone_addresses=(("euw1-az1", NLB_IP_2), ("euw1-az2", NLB_IP)))
    output = applied(lab, script)
    assert "gave no availability zone ID" in output
    assert f"go to {NLB_IP_2}:4789" in output


def test_auto_on_a_type_aws_mirrors_removes_instead(lab: Lab) -> None:
    lab.imds(instance_type="m5.large")
    script = write_script(lab.root, method="auto")
    before = lab.web_state()
    applied(lab, script, "--remote", NLB_IP, "--instance-type", "m6i.large")  # AWS cannot: host applies
    assert our_filters(lab)
    output = applied(lab, script, "--remote", NLB_IP)  # the instance type from IMDS: m5, AWS mirrors it
    assert "removing host mirroring instead" in output
    assert lab.web_state() == before
    assert lab.script(script, "method").stdout == "aws\n"


def set_lease(lab: Lab, expiry: int) -> None:
    (lab.root / "lib" / "wallarm-host-mirror" / STACK / "lease").write_text(f"{expiry}\n")


def test_guard_stops_everything_once_the_lease_expired(lab: Lab) -> None:
    before = lab.web_state()
    script = write_script(lab.root)
    lab.write_hosts({NLB_NAME: NLB_IP, CONTROL: "10.0.0.2"})
    applied(lab, script, "--remote", NLB_IP)
    lease = (lab.root / "lib" / "wallarm-host-mirror" / STACK / "lease").read_text()
    assert int(lease) > time.time() + 5000  # 5400 s from the apply
    # an expiry no renewal writes (it would write now + 5400 s), still in the future
    set_lease(lab, int(lease) - 1000)
    kept = lab.script(script, "guard")
    assert kept.returncode == 0 and our_filters(lab), kept.stdout + kept.stderr
    # only apply and install (the stack's association) renew the lease, never the guard itself
    assert (lab.root / "lib" / "wallarm-host-mirror" / STACK / "lease").read_text() == f"{int(lease) - 1000}\n"
    set_lease(lab, int(time.time()) - 1)
    stopped = lab.script(script, "guard")
    assert "the lease expired" in stopped.stdout
    assert lab.web_state() == before
    assert not (lab.root / "lib" / "wallarm-host-mirror" / STACK).exists()


def test_guard_stops_after_the_nlb_name_is_gone_three_times_but_not_when_dns_is_down(lab: Lab) -> None:
    before = lab.web_state()
    script = write_script(lab.root)
    lab.write_hosts({NLB_NAME: NLB_IP, CONTROL: "10.0.0.2"})
    applied(lab, script, "--remote", NLB_IP)
    lab.write_hosts({})  # the resolver answers nothing at all: no decision, however often
    for _ in range(4):
        transient = lab.script(script, "guard")
        assert "no decision" in transient.stdout
    assert our_filters(lab)
    lab.write_hosts({CONTROL: "10.0.0.2"})  # the resolver works, the NLB's name is gone
    for run in (1, 2):
        missing = lab.script(script, "guard")
        assert f"({run} of 3 checks in a row)" in missing.stdout
        assert our_filters(lab)
    lab.write_hosts({NLB_NAME: NLB_IP, CONTROL: "10.0.0.2"})  # back: the count starts again
    lab.script(script, "guard")
    lab.write_hosts({CONTROL: "10.0.0.2"})
    for run in (1, 2):
        assert f"({run} of 3" in lab.script(script, "guard").stdout
    gone = lab.script(script, "guard")
    assert "the NLB is gone: stopping" in gone.stdout
    assert lab.web_state() == before


@pytest.mark.parametrize(
    ("web_mtu", "client_mtu", "largest_frame", "fragmented"),
    [
        (1500, 1500, 1514, True),  # every full-size copy is 1564 bytes on a 1500 link: IP fragments
        (9001, 1500, 1514, False),  # the VPC's MTU, clients at 1500 (the internet): copies fit whole
        (9001, 9001, 9015, True),  # jumbo segments between VPC hosts: 9065-byte copies are fragmented
    ],
)
def test_copies_near_the_mtu_arrive_whole_and_the_sites_packets_do_not_change(
    make_lab: Callable[..., Lab], web_mtu: int, client_mtu: int, largest_frame: int, fragmented: bool
) -> None:
    lab = make_lab(web_mtu=web_mtu, client_mtu=client_mtu)
    applied(lab, write_script(lab.root), "--remote", NLB_IP)
    receiver = lab.receive(DEV)
    reassembled = lab.snmp(lab.rcv)["ReasmOKs"]
    lab.fetch(f"http://{WEB_IP}:{APP_PORT}/big.bin", out=str(lab.root / "got.bin"))
    lab.stop_receiving(receiver)
    assert (lab.root / "got.bin").read_bytes() == lab.big
    found, other = copies(lab.received)
    assert other == 0
    # tc sees the web host's TCP segmentation super-packets; the vxlan device's output segments them
    # again, so every copy carries one frame no longer than the link allows, never a 64 KB one
    assert max(copy.frame_length for copy in found) == largest_frame
    response = [data for (src, sport, _, _), data in streams(found).items() if src == WEB_IP and sport == APP_PORT]
    assert response and response[0].endswith(lab.big)
    assert (lab.snmp(lab.rcv)["ReasmOKs"] > reassembled) is fragmented
    # out of band: no path MTU learnt from the copies' size for the client, no change of the site's MTU
    assert " mtu " not in lab.ip("route", "get", CLIENT_IP)
    assert lab.ns(lab.web, "cat /sys/class/net/w0/mtu").stdout.strip() == str(web_mtu)


def test_status_shows_what_is_applied_and_what_was_copied(lab: Lab) -> None:
    script = write_script(lab.root)
    assert "not applied" in lab.script(script, "status").stdout
    applied(lab, script, "--remote", NLB_IP)
    lab.fetch(f"http://{WEB_IP}:{APP_PORT}/big.bin")
    shown = lab.script(script, "status").stdout
    assert f"applied on w0 (w0 {NLB_IP} {WEB_IP} {VNI} 8080)" in shown
    assert f"vxlan id {VNI} remote {NLB_IP} local {WEB_IP}" in shown and "lease until 20" in shown
    egress = re.search(r"egress copies: (\d+) bytes, (\d+) packets", shown)
    assert egress and int(egress.group(1)) > BIG and int(egress.group(2)) > 100


def test_install_adds_a_guard_timer_and_uninstall_takes_everything_away(lab: Lab) -> None:
    systemctl = lab.root / "bin" / "systemctl"
    systemctl.write_text(f'#!/bin/sh\necho "$*" >> {lab.root}/systemctl.log\n')
    systemctl.chmod(0o755)
    before = lab.web_state()
    script = write_script(lab.root)
    installed = lab.script(script, "install", "--remote", NLB_IP, path_prefix=lab.root / "bin")
    assert installed.returncode == 0, installed.stderr
    name = f"wallarm-host-mirror-{STACK}"
    copy = lab.root / "sbin" / name
    assert copy.read_text() == script.read_text() and copy.stat().st_mode & 0o777 == 0o700
    service = (lab.root / "units" / f"{name}.service").read_text()
    assert f"ExecStart=/bin/sh /usr/local/sbin/{name} guard" in service
    timer = (lab.root / "units" / f"{name}.timer").read_text()
    assert "OnBootSec=30s" in timer and "OnUnitActiveSec=60s" in timer
    assert (lab.root / "systemctl.log").read_text().splitlines() == ["daemon-reload", f"enable --now {name}.timer"]
    assert len(our_filters(lab)) == 4
    assert (lab.root / "lib" / "wallarm-host-mirror" / STACK / "options").read_text() == f"\n{NLB_IP}\n"
    removed = lab.script(script, "uninstall", path_prefix=lab.root / "bin")
    assert removed.returncode == 0, removed.stderr
    assert lab.web_state() == before
    assert not any(
        path.is_file() for folder in ("units", "sbin", "lib", "run") for path in (lab.root / folder).rglob("*")
    )
    assert (lab.root / "systemctl.log").read_text().splitlines()[-2:] == [
        f"disable --now {name}.timer",
        "daemon-reload",
    ]
