"""Sizing and monthly cost of one analyser for an organisation: one hub of Native Nodes against N
separate analysers (issue 23). A calculation, not a measurement: no AWS call, no network.

    .venv/bin/python bench/organisation_cost.py [--spokes 10] [--gbps-per-spoke 0.1 | --rps-per-spoke R]
        [--avg-bytes 16384] [--average-to-peak 0.4] [--coincidence 0.5] [--cross-zone-share 0.5]
        [--link tgw|peering] [--tgw-attachments-exist] [--method aws|host] [--enis-per-spoke 6]
        [--instance-type c7g.large] [--min-nodes 2] [--prices us-east] [--price KEY=VALUE ...] [--json]

Every figure it uses is a row of FIGURES below, with the page it comes from and the day it was read,
and a status: documented (the provider's own page says so), secondary (the provider's figure as
quoted by a third party, because the provider's page renders its prices in the browser and could not
be read here), measured (in this repository), inferred (our conclusion from a documented figure made
for something else) or assumed (our choice: override it with --price KEY=VALUE).

The layouts compared (per month of HOURS_PER_MONTH hours):
- separate: every spoke runs its own analyser: its own internal NLB and its own nodes, at least
  --min-nodes and enough for its own peak. Copies stay in the spoke's VPC.
- hub, sum of peaks: one NLB and one node group for all spokes, sized for the sum of the spokes'
  peaks (the conservative assumption: every peak at the same moment).
- hub, peak of sum: the same hub sized for the peak of the summed traffic, taken as --coincidence
  times the sum of the peaks (never less than one spoke's peak). 1.0 means the peaks coincide.
Both hubs carry the copies from the spoke VPCs to the hub VPC over a transit gateway or VPC peering.
Charges common to both layouts (traffic mirroring per ENI-hour) appear in both columns.

Wallarm documents no throughput sizing for the Native Node (searched: the all-in-one, AWS AMI,
Helm chart and TCP traffic mirror pages of wallarm/product-documentation). Its NGINX Node page says
"On average, one CPU core can handle about 500 RPS" with "at least 2x headroom": applied to the
Native Node that is an inference, so both rows say inferred and can be overridden.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Literal, NoReturn

Status = Literal["documented", "secondary", "measured", "inferred", "assumed"]
READ = "2026-12-07"


@dataclass(frozen=True)
class Figure:
    key: str
    value: float
    unit: str
    status: Status
    source: str
    read: str = READ

    def __post_init__(self) -> None:
        if self.status == "assumed":  # an assumption was read nowhere
            object.__setattr__(self, "read", "")


# One table of every price and sizing figure. Prices are US East: the Ohio (us-east-2) examples of
# AWS's pricing pages and Wallarm's "us-east" EC2 example. Override any row with --price KEY=VALUE.
FIGURES: tuple[Figure, ...] = (
    # --- Wallarm sizing (Native Node: none documented) ---
    Figure(
        "sizing.rps_per_vcpu",
        500,
        "requests/s per vCPU",
        "inferred",
        "Wallarm, 'Allocating Resources for Wallarm NGINX Node': \"On average, one CPU core can handle about "
        '500 RPS" (NGINX Node; no figure for the Native Node): wallarm/product-documentation '
        "docs/latest/admin-en/configuration-guides/allocate-resources-for-node.md "
        "(https://docs.wallarm.com/admin-en/configuration-guides/allocate-resources-for-node/)",
    ),
    Figure(
        "sizing.target_utilisation",
        0.5,
        "share of node capacity used at peak",
        "inferred",
        'Wallarm, same page (NGINX Node): "with at least 2x headroom for traffic spikes and node redundancy" '
        "(https://docs.wallarm.com/admin-en/configuration-guides/allocate-resources-for-node/)",
    ),
    Figure(
        "sizing.avg_bytes",
        16384,
        "bytes per request + response, mirrored",
        "assumed",
        "assumed (the 16 KB page of bench/host_mirror.py); --avg-bytes",
    ),
    # --- traffic shape ---
    Figure(
        "traffic.encapsulation",
        1.08,
        "copy bytes on the wire / mirrored bytes",
        "measured",
        "docs/host-mirroring.md, 'Cost: aws against host' (MTU 9001 host, 1500 clients: copies 1.08x the "
        "mirrored ports' traffic; 1.11x at MTU 1500), measured with host mirroring by bench/host_mirror.py; "
        "AWS sessions add the same 50-byte VXLAN header per packet (assumed alike)",
    ),
    Figure(
        "traffic.requests_per_connection",
        10,
        "requests per TCP connection",
        "assumed",
        "assumed (keep-alive); drives only the NLB's flow dimensions",
    ),
    Figure(
        "nlb.udp_flow_seconds",
        120,
        "seconds a mirrored UDP flow counts as active",
        "assumed",
        "assumed (order of the NLB's UDP idle timeout; not re-read); drives only the active-flow dimension",
    ),
    Figure("hours_per_month", 730, "hours", "assumed", "assumed (the month AWS's pricing examples use)"),
    # --- AWS Traffic Mirroring ---
    Figure(
        "mirroring.eni_hour",
        0.015,
        "USD per ENI-hour with mirroring enabled",
        "documented",
        "https://aws.amazon.com/vpc/pricing/ (Traffic Mirroring example, US East (Ohio)), as recorded in "
        "shared/wallarm-facts.md section 10; not charged by host mirroring",
    ),
    # --- Network Load Balancer ---
    Figure(
        "nlb.hour",
        0.0225,
        "USD per NLB-hour",
        "secondary",
        "https://aws.amazon.com/elasticloadbalancing/pricing/ (US East), figure as quoted by "
        "https://awsnegotiations.com/elastic-load-balancer-cost.html (May 2026)",
    ),
    Figure(
        "nlb.nlcu_hour",
        0.006,
        "USD per NLCU-hour",
        "secondary",
        "https://aws.amazon.com/elasticloadbalancing/pricing/ (US East), figure as quoted by "
        "https://awsnegotiations.com/elastic-load-balancer-cost.html (May 2026)",
    ),
    Figure(
        "nlb.nlcu_udp_new_flows",
        400,
        "new UDP flows/s in one NLCU",
        "documented",
        'https://aws.amazon.com/elasticloadbalancing/pricing/: "For User Datagram Protocol (UDP) traffic, an '
        'NLCU contains: 400 new UDP flows per second." (page text as quoted in public code)',
    ),
    Figure(
        "nlb.nlcu_udp_active_flows",
        50000,
        "active UDP flows in one NLCU",
        "documented",
        'https://aws.amazon.com/elasticloadbalancing/pricing/: "50,000 active UDP flows (sampled per minute)."',
    ),
    Figure(
        "nlb.nlcu_gb_per_hour",
        1.0,
        "GB processed per hour in one NLCU",
        "documented",
        'https://aws.amazon.com/elasticloadbalancing/pricing/: "1 GB per hour for Amazon Elastic Compute Cloud (EC2) '
        'instances, containers, IP addresses..."',
    ),
    # --- data transfer ---
    Figure(
        "data.inter_zone_gb",
        0.01,
        "USD per GB crossing zones, charged in each direction (out and in)",
        "secondary",
        "https://aws.amazon.com/ec2/pricing/on-demand/ (Data Transfer within the same AWS Region), quoted as "
        '"$0.01/GB in each direction" by several public sources; the page renders prices in the browser',
    ),
    Figure(
        "peering.same_zone_gb",
        0.0,
        "USD per GB over VPC peering within one zone",
        "documented",
        "https://docs.aws.amazon.com/whitepapers/latest/building-scalable-secure-multi-vpc-network-infrastructure/"
        'vpc-peering.html: "All data transfer over a VPC peering connection that stays within an Availability '
        "Zone is free. All data transfer over a VPC peering connection that crosses Availability Zones is "
        'charged at the standard in-region data transfer rates." (since May 2021)',
    ),
    Figure(
        "tgw.attachment_hour",
        0.05,
        "USD per VPC attachment-hour",
        "secondary",
        "https://aws.amazon.com/transit-gateway/pricing/ (pricing example, US East (Ohio): '$0.05 per VPC "
        "attachment'), as transcribed 2026-09-20 in api-evangelist/amazon-transit-gateway",
    ),
    Figure(
        "tgw.gb_processed",
        0.02,
        "USD per GB sent into the transit gateway",
        "secondary",
        "https://aws.amazon.com/transit-gateway/pricing/ (pricing example: '$0.02 per GB data processing'), "
        "as transcribed 2026-09-20 in api-evangelist/amazon-transit-gateway",
    ),
    # --- EC2 on-demand, Linux (vCPUs: AWS instance type specifications, not re-read here) ---
    Figure(
        "ec2.t3.medium",
        0.0416,
        "USD per instance-hour (2 vCPU, burstable)",
        "documented",
        "Wallarm, 'Cost Guidance for Deploying NGINX Node in AWS': \"a t3.medium in us-east costs about "
        '$0.0416/hour" (docs/latest/installation/cloud-platforms/aws/costs.md); the Native Node AMI page '
        "recommends t3.medium or t3.large",
    ),
    Figure("ec2.t3.large", 0.0832, "USD per instance-hour (2 vCPU, burstable)", "assumed", "assumed (2x t3.medium)"),
    Figure("ec2.c7g.large", 0.0725, "USD per instance-hour (2 vCPU, Graviton)", "assumed", "assumed (us-east-1)"),
    Figure("ec2.c7g.xlarge", 0.145, "USD per instance-hour (4 vCPU, Graviton)", "assumed", "assumed (us-east-1)"),
    Figure("ec2.c6i.large", 0.085, "USD per instance-hour (2 vCPU)", "assumed", "assumed (us-east-1)"),
    Figure("ec2.c6i.xlarge", 0.17, "USD per instance-hour (4 vCPU)", "assumed", "assumed (us-east-1)"),
)

VCPUS: dict[str, int] = {
    "t3.medium": 2,
    "t3.large": 2,
    "c7g.large": 2,
    "c7g.xlarge": 4,
    "c6i.large": 2,
    "c6i.xlarge": 4,
}
# Only one price set is sourced; another region's figures go in with --price KEY=VALUE.
PRICE_SETS: dict[str, tuple[Figure, ...]] = {"us-east": FIGURES}

NOTES: tuple[str, ...] = (
    "Cross-region is not possible: AWS documents the source and the target in the same VPC or in VPCs "
    'connected "through intra-Region VPC peering, a transit gateway, or by a Gateway Load Balancer endpoint" '
    "(https://docs.aws.amazon.com/vpc/latest/mirroring/traffic-mirroring-how-it-works.html): one hub per Region.",
    "Wallarm documents no throughput for the Native Node; its NGINX Node figure (500 requests/s per core, 2x "
    "headroom) stands in for it (inferred). Measure a node under your own traffic and pass --price "
    "sizing.rps_per_vcpu=N.",
    "The cross-zone share is charged at the inter-zone rate in each direction, in both layouts alike; "
    "whether AWS adds inter-zone transfer on top of transit gateway processing for bytes crossing zones "
    "through an attachment was not checked here (charged: conservative).",
    "The copies cross the transit gateway like any packet, so its per-GB processing is charged on all of them "
    "(inferred: AWS documents the transit gateway path for mirroring and charges per GB sent into it).",
    "The NLB is billed per hour on its largest dimension; computed here on the average hour.",
    "t3 instances are burstable: a node busier than its baseline pays CPU credits, not modelled here.",
)

Layout = Literal["separate", "hub_sum_of_peaks", "hub_peak_of_sum"]
LAYOUT_TITLES: dict[Layout, str] = {
    "separate": "N separate analysers",
    "hub_sum_of_peaks": "one hub, sized for the sum of peaks",
    "hub_peak_of_sum": "one hub, sized for the peak of the sum",
}
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("mirroring", "traffic mirroring (ENI-hours)"),
    ("nlb_hours", "NLB-hours"),
    ("nlcu", "NLB capacity units (NLCU)"),
    ("inter_zone", "inter-zone data"),
    ("inter_vpc", "inter-VPC (transit gateway or peering)"),
    ("nodes", "node instance-hours"),
)


class BadInput(ValueError):
    """One sentence about one bad input."""


@dataclass(frozen=True)
class Fleet:
    spokes: int = 10
    peak_gbps_per_spoke: float = 0.1
    average_to_peak: float = 0.4
    coincidence: float = 0.5
    cross_zone_share: float = 0.5
    link: Literal["tgw", "peering"] = "tgw"
    tgw_attachments_exist: bool = False
    method: Literal["aws", "host"] = "aws"
    enis_per_spoke: int = 6
    instance_type: str = "c7g.large"
    min_nodes: int = 2


@dataclass(frozen=True)
class Sizing:
    instance_type: str
    vcpus: int
    requests_per_second_per_node: float
    requests_per_second_per_gbps: float
    nodes_per_gbps: float
    nodes_per_1000_rps: float


@dataclass(frozen=True)
class LayoutCost:
    layout: Layout
    nlbs: int
    nodes: int
    peak_gbps_sized_for: float
    gb_per_month: float
    nlcu_per_hour: float
    components: dict[str, float]
    total: float
    per_spoke: float


def figures(price_set: str = "us-east", overrides: dict[str, float] | None = None) -> dict[str, Figure]:
    """The figures of a price set, with overrides applied (their status becomes assumed)."""
    if price_set not in PRICE_SETS:
        raise BadInput(f"--prices: unknown price set {price_set!r}; the one sourced set is {', '.join(PRICE_SETS)}.")
    table = {figure.key: figure for figure in PRICE_SETS[price_set]}
    for key, value in (overrides or {}).items():
        if key not in table:
            raise BadInput(f"--price: unknown key {key!r}; the keys are the rows of the figures table (--json).")
        if value < 0 or not math.isfinite(value):
            raise BadInput(f"--price {key}: {value} is not a price or figure (must be a finite number >= 0).")
        table[key] = replace(table[key], value=value, status="assumed", source="given on the command line", read="")
    return table


def sizing(table: dict[str, Figure], instance_type: str, avg_bytes: float) -> Sizing:
    """Nodes per Gbit/s and per 1,000 requests/s for one instance type."""
    if instance_type not in VCPUS:
        raise BadInput(f"--instance-type: {instance_type!r} has no price here; choose one of {', '.join(VCPUS)}.")
    per_node = VCPUS[instance_type] * table["sizing.rps_per_vcpu"].value * table["sizing.target_utilisation"].value
    if per_node <= 0:
        raise BadInput("--price: sizing.rps_per_vcpu and sizing.target_utilisation must be above 0.")
    rps_per_gbps = 1e9 / 8 / avg_bytes
    return Sizing(instance_type, VCPUS[instance_type], per_node, rps_per_gbps, rps_per_gbps / per_node, 1000 / per_node)


def nodes_for(peak_gbps: float, size: Sizing, min_nodes: int) -> int:
    return max(min_nodes, math.ceil(peak_gbps * size.requests_per_second_per_gbps / size.requests_per_second_per_node))


def nlcu_per_hour(table: dict[str, Figure], average_gbps: float, size: Sizing) -> float:
    """NLCUs of an average hour: the largest of the processed-bytes, new-flow and active-flow dimensions.
    Each mirrored TCP connection may make two UDP flows (the outer source port hashes each direction)."""
    gb_per_hour = average_gbps * table["traffic.encapsulation"].value / 8 * 3600
    requests = average_gbps * size.requests_per_second_per_gbps
    new_flows = 2 * requests / table["traffic.requests_per_connection"].value
    active_flows = new_flows * table["nlb.udp_flow_seconds"].value
    return max(
        gb_per_hour / table["nlb.nlcu_gb_per_hour"].value,
        new_flows / table["nlb.nlcu_udp_new_flows"].value,
        active_flows / table["nlb.nlcu_udp_active_flows"].value,
    )


def layout_cost(table: dict[str, Figure], fleet: Fleet, size: Sizing, layout: Layout) -> LayoutCost:
    hours = table["hours_per_month"].value
    n = fleet.spokes
    average = fleet.peak_gbps_per_spoke * fleet.average_to_peak
    gb = n * average * table["traffic.encapsulation"].value / 8 * 3600 * hours
    enis = n * fleet.enis_per_spoke if fleet.method == "aws" else 0
    components = {
        "mirroring": enis * hours * table["mirroring.eni_hour"].value,
        "inter_zone": gb * fleet.cross_zone_share * table["data.inter_zone_gb"].value * 2,
    }
    if layout == "separate":
        sized_for = fleet.peak_gbps_per_spoke
        nlbs, nodes = n, n * nodes_for(sized_for, size, fleet.min_nodes)
        nlcu = n * nlcu_per_hour(table, average, size)
        components["inter_vpc"] = 0.0
    else:
        sum_of_peaks = n * fleet.peak_gbps_per_spoke
        sized_for = sum_of_peaks
        if layout == "hub_peak_of_sum":
            sized_for = max(fleet.peak_gbps_per_spoke, fleet.coincidence * sum_of_peaks)
        nlbs, nodes = 1, nodes_for(sized_for, size, fleet.min_nodes)
        nlcu = nlcu_per_hour(table, n * average, size)
        if fleet.link == "tgw":
            attachments = 0 if fleet.tgw_attachments_exist else n + 1
            components["inter_vpc"] = (
                attachments * hours * table["tgw.attachment_hour"].value + gb * table["tgw.gb_processed"].value
            )
        else:
            components["inter_vpc"] = gb * (1 - fleet.cross_zone_share) * table["peering.same_zone_gb"].value
    components["nlb_hours"] = nlbs * hours * table["nlb.hour"].value
    components["nlcu"] = nlcu * hours * table["nlb.nlcu_hour"].value
    components["nodes"] = nodes * hours * table[f"ec2.{fleet.instance_type}"].value
    ordered = {key: components[key] for key, _ in COMPONENTS}
    total = sum(ordered.values())
    return LayoutCost(layout, nlbs, nodes, sized_for, gb, nlcu, ordered, total, total / n)


def check(fleet: Fleet, avg_bytes: float) -> None:
    """One sentence per bad value, the first one found."""
    if fleet.spokes < 1:
        raise BadInput(f"--spokes: {fleet.spokes} is not a fleet; give 1 or more spokes.")
    if not (math.isfinite(fleet.peak_gbps_per_spoke) and fleet.peak_gbps_per_spoke > 0):
        raise BadInput(f"--gbps-per-spoke/--rps-per-spoke: the peak must be above 0 (got {fleet.peak_gbps_per_spoke}).")
    if not avg_bytes > 0 or not math.isfinite(avg_bytes):
        raise BadInput(f"--avg-bytes: {avg_bytes} bytes per request and response must be above 0.")
    for name, value in (
        ("--average-to-peak", fleet.average_to_peak),
        ("--coincidence", fleet.coincidence),
    ):
        if not 0 < value <= 1:
            raise BadInput(f"{name}: {value} must be above 0 and at most 1.")
    if not 0 <= fleet.cross_zone_share <= 1:
        raise BadInput(f"--cross-zone-share: {fleet.cross_zone_share} must be between 0 and 1.")
    if fleet.enis_per_spoke < 0:
        raise BadInput(f"--enis-per-spoke: {fleet.enis_per_spoke} must be 0 or more.")
    if fleet.min_nodes < 1:
        raise BadInput(f"--min-nodes: {fleet.min_nodes} must be 1 or more (an analyser needs a node).")


def calculate(
    fleet: Fleet, avg_bytes: float | None = None, price_set: str = "us-east", overrides: dict[str, float] | None = None
) -> dict[str, object]:
    """The whole result as plain data (what --json prints)."""
    table = figures(price_set, overrides)
    size_bytes = table["sizing.avg_bytes"].value if avg_bytes is None else avg_bytes
    check(fleet, size_bytes)
    size = sizing(table, fleet.instance_type, size_bytes)
    layouts: tuple[Layout, ...] = ("separate", "hub_sum_of_peaks", "hub_peak_of_sum")
    return {
        "fleet": asdict(fleet) | {"avg_bytes": size_bytes, "price_set": price_set},
        "sizing": asdict(size),
        "layouts": {layout: asdict(layout_cost(table, fleet, size, layout)) for layout in layouts},
        "figures": [asdict(figure) for figure in table.values()],
        "notes": list(NOTES),
    }


def _money(value: float) -> str:
    return f"${value:,.0f}"


def markdown(result: dict[str, object]) -> str:
    fleet = result["fleet"]
    size = result["sizing"]
    layouts = result["layouts"]
    assert isinstance(fleet, dict) and isinstance(size, dict) and isinstance(layouts, dict)
    link = "transit gateway" if fleet["link"] == "tgw" else "VPC peering"
    if fleet["link"] == "tgw" and fleet["tgw_attachments_exist"]:
        link += " (attachments exist already: not counted)"
    lines = [
        f"Fleet: {fleet['spokes']} spokes, {fleet['peak_gbps_per_spoke']:g} Gbit/s mirrored at each spoke's peak "
        f"(average {fleet['average_to_peak']:g} of peak), {fleet['avg_bytes']:g} bytes per request + response, "
        f"{fleet['cross_zone_share']:g} of copy bytes crossing zones, {link}, method {fleet['method']} "
        f"({fleet['enis_per_spoke']} mirrored ENIs per spoke), {fleet['instance_type']} nodes, at least "
        f"{fleet['min_nodes']} per analyser, prices {fleet['price_set']}.",
        "",
        "| sizing (inferred: Wallarm documents none for the Native Node) | value |",
        "|---|---|",
        f"| requests/s per {size['instance_type']} node ({size['vcpus']} vCPU) "
        f"| {size['requests_per_second_per_node']:,.0f} |",
        f"| requests/s per Gbit/s mirrored | {size['requests_per_second_per_gbps']:,.0f} |",
        f"| nodes per Gbit/s | {size['nodes_per_gbps']:.2f} |",
        f"| nodes per 1,000 requests/s | {size['nodes_per_1000_rps']:.2f} |",
        "",
        "| per month (USD) | " + " | ".join(LAYOUT_TITLES[key] for key in LAYOUT_TITLES) + " |",
        "|---|" + "---:|" * len(LAYOUT_TITLES),
    ]
    costs = [layouts[key] for key in LAYOUT_TITLES]
    sized = [f"{c['peak_gbps_sized_for']:g} Gbit/s" + (" each" if c["layout"] == "separate" else "") for c in costs]
    lines.append("| sized for | " + " | ".join(sized) + " |")
    lines.append("| NLBs / nodes | " + " | ".join(f"{c['nlbs']} / {c['nodes']}" for c in costs) + " |")
    for key, title in COMPONENTS:
        lines.append(f"| {title} | " + " | ".join(_money(c["components"][key]) for c in costs) + " |")
    lines.append("| **total** | " + " | ".join(f"**{_money(c['total'])}**" for c in costs) + " |")
    lines.append("| per spoke | " + " | ".join(_money(c["per_spoke"]) for c in costs) + " |")
    lines += [
        "",
        f"Copies: {costs[0]['gb_per_month']:,.0f} GB a month in all (VXLAN included). The peak of the sum is "
        f"taken as {fleet['coincidence']:g} x the sum of the peaks (--coincidence).",
        "",
        "Figures (status: documented, secondary, measured, inferred, assumed; override with --price KEY=VALUE):",
        "",
        "| key | value | unit | status | source | read |",
        "|---|---|---|---|---|---|",
    ]
    rows = result["figures"]
    assert isinstance(rows, list)
    for row in rows:
        lines.append(
            f"| {row['key']} | {row['value']:g} | {row['unit']} | {row['status']} | {row['source']} | {row['read']} |"
        )
    notes = result["notes"]
    assert isinstance(notes, list)
    lines += ["", *(f"- {note}" for note in notes)]
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"organisation_cost: {message}\n")


def _price(text: str) -> tuple[str, float]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE, e.g. ec2.c7g.large=0.0725")
    try:
        return key.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} in {text!r} is not a number") from None


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = _Parser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    traffic = parser.add_mutually_exclusive_group()
    traffic.add_argument("--gbps-per-spoke", type=float, help="mirrored Gbit/s at each spoke's peak (default 0.1)")
    traffic.add_argument("--rps-per-spoke", type=float, help="requests/s at each spoke's peak (with --avg-bytes)")
    parser.add_argument("--spokes", type=int, default=Fleet.spokes, help="number of spoke accounts/VPCs")
    parser.add_argument("--avg-bytes", type=float, help="bytes per request + response (default: sizing.avg_bytes)")
    parser.add_argument("--average-to-peak", type=float, default=Fleet.average_to_peak)
    parser.add_argument("--coincidence", type=float, default=Fleet.coincidence, help="peak of the sum / sum of peaks")
    parser.add_argument("--cross-zone-share", type=float, default=Fleet.cross_zone_share)
    parser.add_argument("--link", choices=("tgw", "peering"), default=Fleet.link)
    parser.add_argument("--tgw-attachments-exist", action="store_true", help="the VPCs are attached already")
    parser.add_argument("--method", choices=("aws", "host"), default=Fleet.method)
    parser.add_argument("--enis-per-spoke", type=int, default=Fleet.enis_per_spoke)
    parser.add_argument("--instance-type", default=Fleet.instance_type)
    parser.add_argument("--min-nodes", type=int, default=Fleet.min_nodes)
    parser.add_argument("--prices", default="us-east", help="price set (one sourced: us-east)")
    parser.add_argument("--price", type=_price, action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    overrides = dict(args.price)
    try:
        table = figures(args.prices, overrides)
        avg_bytes = table["sizing.avg_bytes"].value if args.avg_bytes is None else args.avg_bytes
        if args.rps_per_spoke is not None:
            if not avg_bytes > 0:
                raise BadInput(f"--avg-bytes: {avg_bytes} bytes per request and response must be above 0.")
            peak = args.rps_per_spoke * avg_bytes * 8 / 1e9
        else:
            peak = Fleet.peak_gbps_per_spoke if args.gbps_per_spoke is None else args.gbps_per_spoke
        fleet = Fleet(
            spokes=args.spokes,
            peak_gbps_per_spoke=peak,
            average_to_peak=args.average_to_peak,
            coincidence=args.coincidence,
            cross_zone_share=args.cross_zone_share,
            link=args.link,
            tgw_attachments_exist=args.tgw_attachments_exist,
            method=args.method,
            enis_per_spoke=args.enis_per_spoke,
            instance_type=args.instance_type,
            min_nodes=args.min_nodes,
        )
        result = calculate(fleet, avg_bytes, args.prices, overrides)
    except BadInput as problem:
        print(f"organisation_cost: {problem}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2) if args.json else markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
