"""bench/organisation_cost.py: the arithmetic on hand-computed fleets, the properties the comparison
must keep, the figures table's sourcing, bad command lines (exit 2, one sentence) and the --json shape."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "organisation_cost.py"


def _load():
    spec = importlib.util.spec_from_file_location("organisation_cost", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["organisation_cost"] = module
    spec.loader.exec_module(module)
    return module


oc = _load()

# Round numbers: 125,000 bytes a request + response is 1,000 requests/s per Gbit/s; a c7g.large
# (2 vCPU x 500 x 0.5) takes 500 requests/s, so 2 nodes per Gbit/s; no VXLAN overhead; average = peak.
SIMPLE = {"traffic.encapsulation": 1.0, "sizing.avg_bytes": 125_000}


def simple_fleet(**changes):
    base = {
        "spokes": 2,
        "peak_gbps_per_spoke": 1.0,
        "average_to_peak": 1.0,
        "coincidence": 0.5,
        "cross_zone_share": 0.5,
        "link": "tgw",
        "enis_per_spoke": 6,
        "instance_type": "c7g.large",
        "min_nodes": 2,
    }
    return oc.Fleet(**(base | changes))


def layouts(fleet, overrides=None):
    result = oc.calculate(fleet, overrides=SIMPLE | (overrides or {}))
    return result["layouts"]


def test_sizing_of_the_simple_fleet():
    result = oc.calculate(simple_fleet(), overrides=SIMPLE)
    assert result["sizing"] == {
        "instance_type": "c7g.large",
        "vcpus": 2,
        "requests_per_second_per_node": 500.0,
        "requests_per_second_per_gbps": 1000.0,
        "nodes_per_gbps": 2.0,
        "nodes_per_1000_rps": 2.0,
    }


def test_two_spokes_of_one_gbps_by_hand():
    costs = layouts(simple_fleet())
    gb = 2 * 1.0 / 8 * 3600 * 730  # 657,000 GB a month
    # Every layout: 12 ENIs mirrored; half the copy bytes cross zones, paid out and in.
    for cost in costs.values():
        assert cost["gb_per_month"] == pytest.approx(gb)
        assert cost["components"]["mirroring"] == pytest.approx(12 * 730 * 0.015)
        assert cost["components"]["inter_zone"] == pytest.approx(gb * 0.5 * 0.01 * 2)
        # 450 GB an hour per Gbit/s is 450 NLCU; the flows (200 new/s: 0.5 NLCU) stay below it.
        assert cost["nlcu_per_hour"] == pytest.approx(900)
        assert cost["components"]["nlcu"] == pytest.approx(900 * 730 * 0.006)

    separate = costs["separate"]
    assert (separate["nlbs"], separate["nodes"]) == (2, 4)
    assert separate["components"]["nlb_hours"] == pytest.approx(2 * 730 * 0.0225)
    assert separate["components"]["inter_vpc"] == 0
    assert separate["components"]["nodes"] == pytest.approx(4 * 730 * 0.0725)
    assert separate["total"] == pytest.approx(131.4 + 32.85 + 3942 + 6570 + 0 + 211.7)
    assert separate["per_spoke"] == pytest.approx(separate["total"] / 2)

    hub = costs["hub_sum_of_peaks"]
    assert (hub["nlbs"], hub["nodes"], hub["peak_gbps_sized_for"]) == (1, 4, 2.0)
    assert hub["components"]["nlb_hours"] == pytest.approx(730 * 0.0225)
    # Three attachments (two spokes and the hub) and $0.02 for every GB sent into the gateway.
    assert hub["components"]["inter_vpc"] == pytest.approx(3 * 730 * 0.05 + gb * 0.02)

    peak_of_sum = costs["hub_peak_of_sum"]
    assert (peak_of_sum["nodes"], peak_of_sum["peak_gbps_sized_for"]) == (2, 1.0)
    assert peak_of_sum["components"]["nodes"] == pytest.approx(2 * 730 * 0.0725)


def test_peering_and_existing_attachments_and_host_method():
    peering = layouts(simple_fleet(link="peering"))
    assert peering["hub_sum_of_peaks"]["components"]["inter_vpc"] == 0  # same zone free, across: inter_zone
    attached = layouts(simple_fleet(tgw_attachments_exist=True))
    gb = 2 * 1.0 / 8 * 3600 * 730
    assert attached["hub_sum_of_peaks"]["components"]["inter_vpc"] == pytest.approx(gb * 0.02)
    host = layouts(simple_fleet(method="host"))
    assert all(cost["components"]["mirroring"] == 0 for cost in host.values())


def test_min_nodes_and_the_largest_spoke_bound_the_hub():
    small = layouts(simple_fleet(spokes=4, peak_gbps_per_spoke=0.1, coincidence=0.1))
    assert small["separate"]["nodes"] == 4 * 2  # 0.2 nodes each, raised to the minimum of 2
    assert small["hub_sum_of_peaks"]["nodes"] == 2  # 0.8 nodes, raised to 2
    # 0.1 x the sum (0.04 Gbit/s) is less than one spoke's peak: the hub is sized for that peak.
    assert small["hub_peak_of_sum"]["peak_gbps_sized_for"] == pytest.approx(0.1)


def test_the_flow_dimension_wins_for_small_requests():
    # 1,250 bytes: 100,000 requests/s per Gbit/s; 0.01 Gbit/s is 1,000 requests/s, one per connection:
    # 2,000 new UDP flows/s = 5 NLCU, above 4.5 GB an hour and 240,000 active flows (4.8 NLCU).
    overrides = {"sizing.avg_bytes": 1250, "traffic.requests_per_connection": 1}
    costs = layouts(simple_fleet(spokes=1, peak_gbps_per_spoke=0.01), overrides)
    assert costs["separate"]["nlcu_per_hour"] == pytest.approx(5.0)


@pytest.mark.parametrize("link", ["peering", "tgw"])
def test_separate_analysers_cost_n_times_one(link):
    one = layouts(simple_fleet(spokes=1, link=link))["separate"]
    for spokes in (2, 7, 40):
        many = layouts(simple_fleet(spokes=spokes, link=link))["separate"]
        assert many["total"] == pytest.approx(spokes * one["total"])
        assert many["per_spoke"] == pytest.approx(one["per_spoke"])


def test_with_peering_a_hub_never_costs_a_spoke_more_than_its_own_analyser():
    for spokes in range(1, 41):
        for peak in (0.01, 0.1, 0.35, 1.0, 3.0):
            for coincidence in (0.05, 0.3, 0.7, 1.0):
                fleet = simple_fleet(
                    spokes=spokes,
                    peak_gbps_per_spoke=peak,
                    coincidence=coincidence,
                    link="peering",
                    average_to_peak=0.4,
                )
                costs = layouts(fleet)
                separate = costs["separate"]["per_spoke"]
                sum_of_peaks = costs["hub_sum_of_peaks"]["per_spoke"]
                peak_of_sum = costs["hub_peak_of_sum"]["per_spoke"]
                assert peak_of_sum <= sum_of_peaks + 1e-9 <= separate + 2e-9, (spokes, peak, coincidence)
                assert costs["hub_peak_of_sum"]["nodes"] <= costs["separate"]["nodes"]


def test_peaks_that_coincide_leave_nothing_to_share():
    costs = layouts(simple_fleet(spokes=5, coincidence=1.0))
    assert costs["hub_peak_of_sum"] == costs["hub_sum_of_peaks"] | {"layout": "hub_peak_of_sum"}


def test_more_spokes_never_raise_the_hubs_node_count_per_unit_of_traffic():
    # Node count of the hub is monotonic in the number of spokes (sized for more traffic, never less).
    previous = 0
    for spokes in range(1, 60):
        nodes = layouts(simple_fleet(spokes=spokes, peak_gbps_per_spoke=0.13))["hub_sum_of_peaks"]["nodes"]
        assert nodes >= previous
        previous = nodes


def test_the_transit_gateway_costs_what_it_processes():
    tgw = layouts(simple_fleet(spokes=3))
    peering = layouts(simple_fleet(spokes=3, link="peering"))
    difference = tgw["hub_sum_of_peaks"]["total"] - peering["hub_sum_of_peaks"]["total"]
    gb = 3 * 1.0 / 8 * 3600 * 730
    assert difference == pytest.approx(4 * 730 * 0.05 + gb * 0.02)
    assert tgw["separate"] == peering["separate"]


def test_every_figure_is_sourced_or_says_assumed():
    allowed = {"documented", "secondary", "measured", "inferred", "assumed"}
    keys = [figure.key for figure in oc.FIGURES]
    assert len(keys) == len(set(keys))
    for figure in oc.FIGURES:
        assert figure.status in allowed, figure.key
        assert figure.source, figure.key
        if figure.status == "assumed":
            assert figure.read == "" and "assumed" in figure.source, figure.key
        else:
            assert figure.read == oc.READ, figure.key
        if figure.status in {"documented", "secondary"}:
            assert "https://" in figure.source or "docs/" in figure.source, figure.key
    # Every instance type the sizing knows has a price row, and the reverse.
    assert {key.removeprefix("ec2.") for key in keys if key.startswith("ec2.")} == set(oc.VCPUS)


def test_an_override_becomes_an_assumption():
    table = oc.figures("us-east", {"ec2.c7g.large": 0.05})
    assert (table["ec2.c7g.large"].value, table["ec2.c7g.large"].status) == (0.05, "assumed")
    assert table["ec2.c7g.large"].source == "given on the command line"


def run(capsys, *args):
    try:
        code = oc.main(list(args))
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--spokes", "0"], "--spokes"),
        (["--spokes", "two"], "--spokes"),
        (["--gbps-per-spoke", "0"], "--gbps-per-spoke"),
        (["--gbps-per-spoke", "1", "--rps-per-spoke", "100"], "--rps-per-spoke"),
        (["--rps-per-spoke", "100", "--avg-bytes", "0"], "--avg-bytes"),
        (["--coincidence", "1.5"], "--coincidence"),
        (["--average-to-peak", "0"], "--average-to-peak"),
        (["--cross-zone-share", "-0.1"], "--cross-zone-share"),
        (["--min-nodes", "0"], "--min-nodes"),
        (["--enis-per-spoke", "-1"], "--enis-per-spoke"),
        (["--link", "vpn"], "--link"),
        (["--instance-type", "m9.huge"], "--instance-type"),
        (["--prices", "eu-west-1"], "--prices"),
        (["--price", "nlb.hour"], "--price"),
        (["--price", "nlb.hour=cheap"], "--price"),
        (["--price", "nlb.hourly=1"], "--price"),
        (["--price", "nlb.hour=-1"], "--price"),
    ],
)
def test_bad_input_exits_2_with_one_sentence(capsys, args, names):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("organisation_cost: ") and names in err, err


def test_markdown_by_default(capsys):
    code, out, err = run(capsys)
    assert (code, err) == (0, "")
    assert "| per month (USD) | N separate analysers | one hub, sized for the sum of peaks |" in out
    assert "| **total** |" in out and "| nodes per 1,000 requests/s |" in out
    assert "| key | value | unit | status | source | read |" in out


def test_rps_per_spoke_is_the_same_fleet_as_gbps(capsys):
    _, by_rps, _ = run(capsys, "--json", "--rps-per-spoke", "1000", "--avg-bytes", "125000")
    _, by_gbps, _ = run(capsys, "--json", "--gbps-per-spoke", "1", "--avg-bytes", "125000")
    assert json.loads(by_rps) == json.loads(by_gbps)


def test_json_shape():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", "--spokes", "3"], capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    assert set(result) == {"fleet", "sizing", "layouts", "figures", "notes"}
    assert result["fleet"]["spokes"] == 3
    assert set(result["layouts"]) == {"separate", "hub_sum_of_peaks", "hub_peak_of_sum"}
    for cost in result["layouts"].values():
        assert set(cost) == {
            "layout",
            "nlbs",
            "nodes",
            "peak_gbps_sized_for",
            "gb_per_month",
            "nlcu_per_hour",
            "components",
            "total",
            "per_spoke",
        }
        assert list(cost["components"]) == ["mirroring", "nlb_hours", "nlcu", "inter_zone", "inter_vpc", "nodes"]
        assert cost["total"] == pytest.approx(sum(cost["components"].values()))
    assert {"key", "value", "unit", "status", "source", "read"} == set(result["figures"][0])
    assert any("intra-Region" in note for note in result["notes"])


def test_the_page_shows_what_the_bench_prints(capsys):
    # docs/organisation.md pastes the default command's whole output: it must still be what it prints.
    code, out, _ = run(capsys)
    assert code == 0
    page = (ROOT / "docs" / "organisation.md").read_text()
    assert "```\n.venv/bin/python bench/organisation_cost.py\n```" in page
    assert out.rstrip("\n") in page, "re-run the command and paste its output into docs/organisation.md"
