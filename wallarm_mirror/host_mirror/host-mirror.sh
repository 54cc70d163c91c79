#!/bin/sh
# wallarm-mirror host mirroring for the Pulumi stack @@STACK@@ (generated: do not edit, render it again).
#
# Copies the TCP traffic of the application ports on this host's interface to the stack's Network
# Load Balancer as VXLAN (UDP 4789, VNI @@VNI@@), the packets AWS Traffic Mirroring would send:
# a clsact qdisc on the interface, u32 filters at this stack's own priorities (ingress @@IN4@@ IPv4
# and @@IN6@@ IPv6, egress @@OUT4@@ and @@OUT6@@) whose only action is `mirred egress mirror ... continue` into the vxlan device
# @@DEV@@. `continue` makes the filters transparent: classification goes on to whatever filters
# other tools have, and the site's own packets are never changed, delayed or dropped.
#
#   sh SCRIPT apply     [--interface IF] [--remote IP] [--instance-type T]  configure the kernel now
#   sh SCRIPT remove    [--interface IF]   take away exactly what apply added
#   sh SCRIPT install   [apply's options]  copy this script to @@INSTALL_PATH@@, add a systemd timer
#                                          that runs `guard` at boot and every minute, then apply
#   sh SCRIPT uninstall                    remove, then take away the timer, the copy and the state
#   sh SCRIPT guard                        stop everything when the lease expired or the NLB is gone;
#                                          otherwise re-apply (after a reboot or drift)
#   sh SCRIPT status                       what is applied, the lease, the copies sent
#   sh SCRIPT method    [--instance-type T]  print aws or host: how this instance is copied
#
# Lease: apply and install write an expiry of now + @@LEASE@@ s; guard uninstalls once it passed
# (the stack's SSM association re-applies every 30 minutes while it exists). DNS guard: when the
# NLB's name does not exist (while the resolver answers for @@CONTROL_NAME@@) on 3 guard runs in
# a row, guard uninstalls; a resolver that does not answer at all changes nothing.
set -u
# The system directories after the caller's PATH: SSM's and systemd's PATH may be minimal.
PATH="${PATH:+$PATH:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export PATH

STACK='@@STACK@@'
METHOD='@@METHOD@@'
VNI=@@VNI@@
PORTS='@@PORTS@@'
NLB_DNS_NAME='@@NLB_DNS_NAME@@'   # empty: an offline copy, apply needs --remote (or ZONE_ADDRESSES)
# The NLB node's address in each zone, by availability zone ID (zone-id=IPv4, space-separated):
# preferred over the names, since a zone ID is the same physical zone in every account.
ZONE_ADDRESSES='@@ZONE_ADDRESSES@@'
CONTROL_NAME='@@CONTROL_NAME@@'   # a name that resolves whenever the VPC resolver works
LEASE_SECONDS=@@LEASE@@
DEV='@@DEV@@'
# Four priorities: u32 lists every table of a priority under both directions of a clsact qdisc, so
# each direction and family has its own and `tc filter show` of one direction shows only its filters.
IN4=@@IN4@@
IN6=@@IN6@@
OUT4=@@OUT4@@
OUT6=@@OUT6@@
VXLAN_PORT=4789
# Instance families AWS Traffic Mirroring cannot use as a source (rendered from
# wallarm_mirror.traffic_mirror.enrolment: UNSUPPORTED_FAMILIES, then XEN_FAMILIES_UNSUPPORTED).
UNSUPPORTED_FAMILIES='@@UNSUPPORTED_FAMILIES@@'
XEN_FAMILIES='@@XEN_FAMILIES@@'
NXDOMAIN_LIMIT=3
IMDS=http://169.254.169.254

NAME="wallarm-host-mirror-$STACK"
INSTALL_PATH='@@INSTALL_PATH@@'
UNIT_DIR=/etc/systemd/system
# Kernel facts live in /run (gone at reboot, like the kernel set-up); the lease and the options in
# /var/lib (they outlive a reboot, so the boot-time guard can re-apply or stop).
RUN_DIR="/run/wallarm-host-mirror/$STACK"
LIB_DIR="/var/lib/wallarm-host-mirror/$STACK"

log() { printf '%s[%s]: %s\n' wallarm-host-mirror "$STACK" "$*"; }
die() { printf '%s[%s]: %s\n' wallarm-host-mirror "$STACK" "$*" >&2; exit 1; }
usage_error() { printf '%s[%s]: %s\n' wallarm-host-mirror "$STACK" "$*" >&2; exit 2; }

# The first line of a file in LINE, '' when it cannot be read. `read` is built in where $(cat) is a
# process of its own, and guard runs every minute.
read_line() {
    LINE=''
    [ -r "$1" ] || return 0
    { IFS= read -r LINE; } 2>/dev/null <"$1" || true
}

need_root() {
    [ "$(id -u)" = 0 ] || die "$1 must run as root: it changes the kernel's traffic control and network devices."
    # One run at a time: the association's apply and the timer's guard may start together.
    command -v flock >/dev/null 2>&1 || return 0
    [ -d "${RUN_DIR%/*}" ] || mkdir -p "${RUN_DIR%/*}"
    exec 9>"$RUN_DIR.lock"
    flock -w 60 9 || die "another run of host mirroring for stack $STACK held its lock for 60 s; try again."
}

# --- the one rule (wallarm_mirror.traffic_mirror.enrolment.mirror_method) -----------------------
method_for() {
    [ "$METHOD" = host ] && { echo host; return; }
    family=${1%%.*}
    case "$1" in *.*) size=${1#*.} ;; *) size='' ;; esac
    case "$size" in metal*) echo host; return ;; esac
    for unsupported in $UNSUPPORTED_FAMILIES $XEN_FAMILIES; do
        [ "$family" = "$unsupported" ] && { echo host; return; }
    done
    echo aws
}

imds_token() {
    curl -fsS -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$IMDS/latest/api/token" 2>/dev/null
}

imds_get() {  # $1 = path under meta-data/; empty output when IMDS does not answer
    token=$(imds_token) || return 1
    curl -fsS -m 2 -H "X-aws-ec2-metadata-token: $token" "$IMDS/latest/meta-data/$1" 2>/dev/null
}

instance_type() {
    if [ -n "$ITYPE" ]; then echo "$ITYPE"; return 0; fi
    imds_get instance-type
}

# --- addresses -------------------------------------------------------------------------------------
# The word after the first " WORD " in text as ip prints it ("dev eth0", "remote 10.0.1.10"), or
# nothing. Built in, where an awk would be a process of its own: guard runs every minute.
word_after() {  # $1 = WORD, $2 = the text
    case "$2" in *" $1 "*) ;; *) return 0 ;; esac
    after=${2#*" $1 "}
    echo "${after%%[[:space:]]*}"
}

default_interface() {
    word_after dev "$(ip -4 route show default 2>/dev/null)"
}

# An interface name goes into tc's batch input, where # starts a comment: only these characters.
plain_interface_name() {
    case "$1" in *[!A-Za-z0-9_.@:-]*) return 1 ;; esac
}

refuse_odd_default_interface() {  # $1 = the name the default route gave
    plain_interface_name "$1" ||
        die "the default route's interface $1 has a name this script does not take; pass --interface."
}

resolve4() {  # IPv4 addresses of a name, one a line (getent: files, then DNS, as the host resolves)
    getent ahostsv4 "$1" 2>/dev/null | while read -r address kind _; do [ "$kind" != STREAM ] || echo "$address"; done
}

current_remote() {
    word_after remote "$(ip -d link show "$DEV" 2>/dev/null)"
}

# The NLB node in this host's zone, in CHOSEN: by the zone ID's address (ZONE_ADDRESSES), else by
# the zonal name (<zone>.<nlb name>), else any node of the regional name, else any listed address.
# The address in use is kept while the name still returns it, so re-applying does not move the copies.
choose_remote() {
    CHOSEN=''
    if [ -n "$ZONE_ADDRESSES" ]; then
        zone_id=$(imds_get placement/availability-zone-id) || zone_id=''
        for pair in $ZONE_ADDRESSES; do
            if [ -n "$zone_id" ] && [ "${pair%%=*}" = "$zone_id" ]; then
                CHOSEN=${pair#*=}
                return 0
            fi
        done
        if [ -n "$zone_id" ]; then
            log "the NLB has no node listed for this host's zone $zone_id: copies may cross zones (inter-zone data is billed)"
        else
            log "the instance metadata service gave no availability zone ID: choosing the NLB node by name"
        fi
    fi
    addresses=''
    if [ -n "$NLB_DNS_NAME" ]; then
        zone=$(imds_get placement/availability-zone) || zone=''
        if [ -n "$zone" ]; then
            addresses=$(resolve4 "$zone.$NLB_DNS_NAME")
            [ -n "$addresses" ] || log "no NLB node answers as $zone.$NLB_DNS_NAME: using the regional name, so copies may cross zones (inter-zone data is billed)"
        else
            log "the instance metadata service gave no availability zone: using the NLB's regional name, so copies may cross zones"
        fi
        [ -n "$addresses" ] || addresses=$(resolve4 "$NLB_DNS_NAME")
    fi
    # Any node will do (the NLB balances across zones): the listed ones, when no name answers.
    [ -n "$addresses" ] || addresses=$(for pair in $ZONE_ADDRESSES; do echo "${pair#*=}"; done)
    [ -n "$addresses" ] || return 1
    in_use=$(current_remote)
    for address in $addresses; do
        [ "$address" = "$in_use" ] && { CHOSEN=$address; return 0; }
    done
    IFS= read -r CHOSEN <<EOF
$addresses
EOF
}

# --- the kernel ------------------------------------------------------------------------------------
# Tries every kernel feature in a throwaway network namespace (gone when unshare exits), so a
# missing one is refused before anything on the host is touched.
probe_kernel() {
    command -v unshare >/dev/null 2>&1 || return 0
    # unshare fails where there are no namespaces: then the real commands will tell.
    missing=$(unshare --net sh -c '
        tc qdisc add dev lo clsact 2>/dev/null || { echo "the clsact qdisc (sch_ingress)"; exit; }
        tc filter add dev lo ingress prio 1 protocol ip u32 match ip protocol 6 0xff 2>/dev/null ||
            { echo "the u32 classifier (cls_u32)"; exit; }
        ip link add wmprobe type vxlan id 1 remote 127.0.0.2 local 127.0.0.1 dstport 4789 nolearning 2>/dev/null ||
            { echo "vxlan devices (vxlan)"; exit; }
        tc filter add dev lo egress prio 1 protocol ip u32 match ip protocol 6 0xff \
            action mirred egress mirror dev wmprobe continue 2>/dev/null || echo "the mirred action (act_mirred)"
    ' 2>/dev/null) || return 0
    [ -z "$missing" ] || die "this kernel lacks $missing, which host mirroring needs; use trafficMirrorMethod aws or a kernel that has it."
}

# What tc shows of $1: its qdiscs and its ingress filters (one batch: a qdisc line starts with
# "qdisc ", a filter listing's never does), then a line "direction egress" and its egress filters.
tc_listing() {
    printf 'qdisc show dev %s\nfilter show dev %s ingress\n' "$1" "$1" | tc -force -batch - 2>/dev/null
    echo "direction egress"
    tc filter show dev "$1" egress 2>/dev/null
}

# One look at the traffic control of $1 (two tc and one awk, where a question each would cost
# a pair: guard runs every minute). Sets CLSACT (yes|no: a clsact qdisc), OURS_INGRESS and
# OURS_EGRESS (our mirror filters in each direction), FOREIGN_IN4, FOREIGN_IN6, FOREIGN_OUT4 and
# FOREIGN_OUT6 (filters at that priority that are not ours) and BARE (yes: no filter in either
# direction). Filters at our priority that do not mirror into our device belong to someone else.
# Ours lose the device's name when it is deleted under them (tc shows "device *"): on the
# interface we applied to, those are ours too, so drift is repaired instead of refused.
look_at_tc() {
    orphans=''
    read_line "$RUN_DIR/interface"
    [ "$LINE" != "$1" ] || orphans=yes
    read -r CLSACT OURS_INGRESS OURS_EGRESS FOREIGN_IN4 FOREIGN_IN6 FOREIGN_OUT4 FOREIGN_OUT6 BARE <<EOF
$(tc_listing "$1" | awk -v dev="$DEV" -v orphans="$orphans" -v in4="$IN4" -v in6="$IN6" -v out4="$OUT4" -v out6="$OUT6" '
    BEGIN {direction = "ingress"}
    /^direction / {direction = $2; next}
    /^qdisc clsact / {clsact = 1}
    /^qdisc / {next}
    length($0) {listed++}
    /^filter / {for (i = 1; i < NF; i++) if ($i == "pref") pref = $(i + 1)}
    / fh [0-9a-f]+::/ {n[direction, pref]++}
    index($0, "Mirror to device " dev ")") {ours[direction]++}
    index($0, "Mirror to device " dev ")") || (orphans && index($0, "Mirror to device *)")) {m[direction, pref]++}
    END {
        print (clsact ? "yes" : "no"), ours["ingress"] + 0, ours["egress"] + 0,
            n["ingress", in4] - m["ingress", in4], n["ingress", in6] - m["ingress", in6],
            n["egress", out4] - m["egress", out4], n["egress", out6] - m["egress", out6], (listed ? "no" : "yes")
    }')
EOF
}

# $1 = interface; $2 = checked when the caller has just seen that no priority of ours holds another
# tool's filters (apply refuses otherwise), so they are not listed again. One tc for the deletions.
delete_filters() {
    [ "${2:-}" = checked ] || look_at_tc "$1"
    deletions=''
    for set in "ingress $IN4 ${FOREIGN_IN4:-0}" "ingress $IN6 ${FOREIGN_IN6:-0}" \
        "egress $OUT4 ${FOREIGN_OUT4:-0}" "egress $OUT6 ${FOREIGN_OUT6:-0}"; do
        direction=${set%% *}
        prio=${set#* }
        prio=${prio%% *}
        if [ "${2:-}" != checked ] && [ "${set##* }" != 0 ]; then
            log "leaving $direction priority $prio on $1 alone: it holds filters that are not ours"
            continue
        fi
        deletions="${deletions}filter del dev $1 $direction pref $prio
"
    done
    # -force: a priority with nothing of ours to delete fails, and the batch goes on
    [ -z "$deletions" ] || printf '%s' "$deletions" | tc -force -batch - >/dev/null 2>&1 || true
}

remove_kernel() {  # $1 = interface (may be gone)
    if [ -n "$1" ] && ip link show "$1" >/dev/null 2>&1; then
        delete_filters "$1"
        [ ! -f "$RUN_DIR/clsact-created" ] || look_at_tc "$1"
        if [ -f "$RUN_DIR/clsact-created" ] && [ "$CLSACT" = yes ] && [ "$BARE" = yes ]; then
            tc qdisc del dev "$1" clsact 2>/dev/null && log "removed the clsact qdisc this script had added to $1"
        fi
    fi
    if ip -d link show "$DEV" 2>/dev/null | grep -q ' vxlan id '; then
        ip link del "$DEV" && log "removed the vxlan device $DEV"
    fi
    rm -f "$RUN_DIR/clsact-created" "$RUN_DIR/interface" "$RUN_DIR/applied"
}

add_filters() {  # $1 = interface; one tc for them all, which stops at the first that fails
    for port in $PORTS; do
        for family in 4 6; do
            if [ "$family" = 4 ]; then
                in=$IN4 out=$OUT4 proto=ip match=ip
            else
                in=$IN6 out=$OUT6 proto=ipv6 match=ip6
            fi
            echo "filter add dev $1 ingress pref $in protocol $proto u32" \
                "match $match protocol 6 0xff match $match dport $port 0xffff" \
                "action mirred egress mirror dev $DEV continue"
            echo "filter add dev $1 egress pref $out protocol $proto u32" \
                "match $match protocol 6 0xff match $match sport $port 0xffff" \
                "action mirred egress mirror dev $DEV continue"
        done
    done | tc -batch -
}

# Brings the kernel to the wanted set-up; changes nothing when it is there already.
apply_kernel() {  # $1 = interface, $2 = remote, $3 = local address
    wanted="$1 $2 $3 $VNI $PORTS"
    count=0
    for port in $PORTS; do count=$((count + 1)); done
    read_line "$RUN_DIR/interface"
    previous=$LINE
    read_line "$RUN_DIR/applied"
    applied=$LINE
    look_at_tc "$1"  # all the questions below about $1's filters and qdisc
    if [ "$applied" = "$wanted" ] && [ "$(current_remote)" = "$2" ] &&
        [ "$OURS_INGRESS" = $((2 * count)) ] && [ "$OURS_EGRESS" = $((2 * count)) ]; then
        log "already applied on $1: copies of TCP ports $PORTS go to $2 (VNI $VNI)"
        return 0
    fi
    probe_kernel  # only when something is to change: guard re-applies every minute
    for set in "ingress $IN4 $FOREIGN_IN4" "ingress $IN6 $FOREIGN_IN6" "egress $OUT4 $FOREIGN_OUT4" \
        "egress $OUT6 $FOREIGN_OUT6"; do
        pair=${set% *}
        [ "${set##* }" = 0 ] ||
            die "${pair% *} priority ${pair#* } on $1 holds another tool's filters; host mirroring uses that priority for stack $STACK and will not touch them."
    done
    clsact=$CLSACT  # removing from the previous interface looks at that one
    [ -z "$previous" ] || [ "$previous" = "$1" ] || remove_kernel "$previous"
    [ -d "$RUN_DIR" ] || mkdir -p "$RUN_DIR"
    # A changed remote, VNI or port list: start from nothing of ours (the filters name the device).
    delete_filters "$1" checked
    ip link del "$DEV" 2>/dev/null || true
    # Our deletions leave the qdisc as it was: the look above still holds.
    if [ "$clsact" != yes ]; then
        tc qdisc add dev "$1" clsact || die "could not add a clsact qdisc to $1, so host mirroring is not applied."
        : >"$RUN_DIR/clsact-created"
    fi
    echo "$1" >"$RUN_DIR/interface"
    ip link add "$DEV" type vxlan id "$VNI" remote "$2" local "$3" dstport "$VXLAN_PORT" nolearning ||
        { remove_kernel "$1"; die "could not create the vxlan device $DEV towards $2; nothing is left of it."; }
    # No IPv6 on the tunnel device: its router solicitations would travel to the analyser too.
    [ ! -w "/proc/sys/net/ipv6/conf/$DEV/disable_ipv6" ] || echo 1 >"/proc/sys/net/ipv6/conf/$DEV/disable_ipv6"
    ip link set "$DEV" up || { remove_kernel "$1"; die "could not bring up $DEV; nothing is left of it."; }
    add_filters "$1" || { remove_kernel "$1"; die "could not add the mirror filters to $1; nothing is left of them."; }
    echo "$wanted" >"$RUN_DIR/applied"
    read_line "/sys/class/net/$1/mtu"
    mtu=${LINE:-0}
    log "applied on $1 (MTU $mtu): copies of TCP ports $PORTS, both directions, go to $2:$VXLAN_PORT as VXLAN VNI $VNI from $3"
    [ "$mtu" -gt 1550 ] ||
        log "MTU $mtu: copies of packets longer than $((mtu - 50)) bytes leave as IP fragments (VXLAN adds 50 bytes); the site's packets are not changed"
}

# --- commands --------------------------------------------------------------------------------------
write_lease() {
    [ -d "$LIB_DIR" ] || mkdir -p "$LIB_DIR"
    now=$(date +%s)
    echo $((now + LEASE_SECONDS)) >"$LIB_DIR/lease"
    # The options as given (an empty interface means: the default route's, looked up again).
    printf '%s\n%s\n' "$ARG_IFACE" "$ARG_REMOTE" >"$LIB_DIR/options"
}

interfaces() {
    for path in /sys/class/net/*; do printf ' %s' "${path##*/}"; done
}

resolve_interface() {
    if [ -z "$IFACE" ]; then
        IFACE=$(default_interface)
        [ -n "$IFACE" ] || die "this host has no IPv4 default route to take the interface from; pass --interface."
        refuse_odd_default_interface "$IFACE"
    fi
    # One ip for both: whether the interface exists, and its first global IPv4 address in LOCAL_IP
    # (the outer source of every copy; '' when it has none: do_apply refuses that).
    addresses=$(ip -4 -o addr show dev "$IFACE" scope global 2>/dev/null) ||
        die "interface $IFACE does not exist; pass --interface with one of:$(interfaces)."
    read -r _ _ _ address _ <<EOF
$addresses
EOF
    LOCAL_IP=${address%%/*}
}

# apply without touching the lease: `apply` and `install` renew it, `guard` re-applies with it.
do_apply() {
    resolve_interface
    if [ "$METHOD" = auto ]; then
        itype=$(instance_type) || itype=''
        [ -n "$itype" ] || die "cannot read this instance's type from the instance metadata service, which auto needs; pass --instance-type."
        if [ "$(method_for "$itype")" = aws ]; then
            log "$itype can be mirrored by AWS Traffic Mirroring, which the stack uses for it (trafficMirrorMethod auto): removing host mirroring instead of applying it"
            do_uninstall
            return 1
        fi
    fi
    remote=$REMOTE
    if [ -z "$remote" ]; then
        [ -n "$NLB_DNS_NAME" ] || [ -n "$ZONE_ADDRESSES" ] ||
            die "this copy was printed offline and knows no NLB address; pass --remote with the NLB's IPv4 address."
        choose_remote || die "the NLB name $NLB_DNS_NAME does not resolve; pass --remote or check DNS."
        remote=$CHOSEN
    fi
    [ -n "$LOCAL_IP" ] || die "interface $IFACE has no global IPv4 address to send the copies from."
    apply_kernel "$IFACE" "$remote" "$LOCAL_IP"
}

do_remove() {
    [ -n "$IFACE" ] || { read_line "$RUN_DIR/interface"; IFACE=$LINE; }
    [ -n "$IFACE" ] || IFACE=$(default_interface)
    refuse_odd_default_interface "$IFACE"
    [ -z "$IFACE" ] || ip link show "$IFACE" >/dev/null 2>&1 || die "interface $IFACE does not exist."
    remove_kernel "$IFACE"
    # Without a lease an installed guard stops at its next run instead of applying again.
    rm -f "$LIB_DIR/lease" "$LIB_DIR/options" "$LIB_DIR/nxdomain"
    log "removed host mirroring${IFACE:+ from $IFACE}"
}

do_install() {
    command -v systemctl >/dev/null 2>&1 || die "install needs systemd (systemctl); use apply from your own scheduler instead."
    mkdir -p "$(dirname "$INSTALL_PATH")"
    if [ "$0" != "$INSTALL_PATH" ]; then
        if ! { cp "$0" "$INSTALL_PATH.new" && chmod 0700 "$INSTALL_PATH.new" && mv "$INSTALL_PATH.new" "$INSTALL_PATH"; }; then
            die "could not copy this script to $INSTALL_PATH."
        fi
    fi
    cat >"$UNIT_DIR/$NAME.service" <<EOF
[Unit]
Description=wallarm-mirror host mirroring guard for stack $STACK (lease and NLB checks, re-apply)
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=/bin/sh $INSTALL_PATH guard
EOF
    cat >"$UNIT_DIR/$NAME.timer" <<EOF
[Unit]
Description=Runs the wallarm-mirror host mirroring guard for stack $STACK at boot and every minute

[Timer]
OnBootSec=30s
OnUnitActiveSec=60s
AccuracySec=5s

[Install]
WantedBy=timers.target
EOF
    if ! { systemctl daemon-reload && systemctl enable --now "$NAME.timer"; } >/dev/null 2>&1; then
        log "systemctl could not enable $NAME.timer; applying now anyway"
    fi
}

do_uninstall() {
    read_line "$RUN_DIR/interface"
    remove_kernel "${IFACE:-$LINE}"
    if [ -f "$UNIT_DIR/$NAME.timer" ] || [ -f "$UNIT_DIR/$NAME.service" ]; then
        systemctl disable --now "$NAME.timer" >/dev/null 2>&1 || true
        rm -f "$UNIT_DIR/$NAME.timer" "$UNIT_DIR/$NAME.service"
        systemctl daemon-reload >/dev/null 2>&1 || true
        log "removed the systemd units $NAME.timer and $NAME.service"
    fi
    rm -f "$INSTALL_PATH" "$RUN_DIR.lock"
    rm -rf "$LIB_DIR" "$RUN_DIR"
    log "uninstalled host mirroring for stack $STACK"
}

do_guard() {
    now=$(date +%s)
    read_line "$LIB_DIR/lease"
    expiry=$LINE
    case "$expiry" in '' | *[!0-9]*) expiry=0 ;; esac
    if [ "$now" -ge "$expiry" ]; then
        log "the lease expired (no apply from the stack's association since): stopping"
        do_uninstall
        return 0
    fi
    if [ -n "$NLB_DNS_NAME" ]; then
        if [ -n "$(resolve4 "$NLB_DNS_NAME")" ]; then
            rm -f "$LIB_DIR/nxdomain"
        elif [ -n "$(resolve4 "$CONTROL_NAME")" ]; then
            read_line "$LIB_DIR/nxdomain"
            misses=$((${LINE:-0} + 1))
            echo "$misses" >"$LIB_DIR/nxdomain"
            log "the NLB name $NLB_DNS_NAME does not exist ($misses of $NXDOMAIN_LIMIT checks in a row)"
            if [ "$misses" -ge "$NXDOMAIN_LIMIT" ]; then
                log "the NLB is gone: stopping"
                do_uninstall
                return 0
            fi
        else
            log "the resolver does not answer (not even for $CONTROL_NAME): no decision about the NLB this time"
        fi
    fi
    { read -r ARG_IFACE && read -r ARG_REMOTE; } <"$LIB_DIR/options" 2>/dev/null || true
    IFACE=$ARG_IFACE
    REMOTE=$ARG_REMOTE
    do_apply || true
}

do_status() {
    read_line "$RUN_DIR/interface"
    iface=$LINE
    if [ -z "$iface" ]; then
        echo "host mirroring for stack $STACK: not applied"
    else
        read_line "$RUN_DIR/applied"
        echo "host mirroring for stack $STACK: applied on $iface ($LINE)"
        ip -d link show "$DEV" 2>/dev/null | sed -n 's/^ *\(vxlan id .*\)/  \1/p'
        tc -s filter show dev "$iface" ingress 2>/dev/null | awk -v dev="$DEV" 'index($0, "Mirror to device " dev ")") {o=1; next} o && /Sent/ {s += $2; p += $4; o=0} END {printf "  ingress copies: %d bytes, %d packets\n", s, p}'
        tc -s filter show dev "$iface" egress 2>/dev/null | awk -v dev="$DEV" 'index($0, "Mirror to device " dev ")") {o=1; next} o && /Sent/ {s += $2; p += $4; o=0} END {printf "  egress copies: %d bytes, %d packets\n", s, p}'
    fi
    read_line "$LIB_DIR/lease"
    expiry=$LINE
    if [ -n "$expiry" ]; then echo "  lease until $(date -u -d "@$expiry" '+%Y-%m-%dT%H:%M:%SZ' 2>/dev/null || echo "$expiry")"; fi
    read_line "$LIB_DIR/nxdomain"
    [ ! -f "$LIB_DIR/nxdomain" ] || echo "  NLB name missing on $LINE guard run(s) in a row"
    [ ! -f "$UNIT_DIR/$NAME.timer" ] || echo "  installed: $NAME.timer runs guard every minute"
}

four_parts_below_256() {  # $1 = digits and dots, no part empty (checked by the caller)
    rest=$1.
    parts=0
    while [ -n "$rest" ]; do
        # a number too large for test fails as not below 256
        [ "${rest%%.*}" -lt 256 ] 2>/dev/null || return 1
        rest=${rest#*.}
        parts=$((parts + 1))
    done
    [ "$parts" = 4 ]
}

CMD=${1:-}
[ $# -eq 0 ] || shift
IFACE=''
REMOTE=''
ITYPE=''
while [ $# -gt 0 ]; do
    case "$1" in
        --interface | --remote | --instance-type)
            if [ $# -lt 2 ] || [ -z "$2" ]; then usage_error "option $1 needs a value."; fi
            case "$1" in --interface) IFACE=$2 ;; --remote) REMOTE=$2 ;; *) ITYPE=$2 ;; esac
            shift 2
            ;;
        *) usage_error "unknown option $1; the options are --interface IF, --remote IP and --instance-type T." ;;
    esac
done
case "$REMOTE" in
    '') ;;
    *[!0-9.]* | *..* | .* | *.) usage_error "--remote $REMOTE is not an IPv4 address." ;;
    *) four_parts_below_256 "$REMOTE" || usage_error "--remote $REMOTE is not an IPv4 address." ;;
esac
plain_interface_name "$IFACE" || usage_error "--interface $IFACE is not an interface name."
ARG_IFACE=$IFACE
ARG_REMOTE=$REMOTE

case "$CMD" in
    apply)
        need_root apply
        if do_apply; then write_lease; fi
        ;;
    remove) need_root remove; do_remove ;;
    install)
        need_root install
        do_install
        if do_apply; then write_lease; fi
        ;;
    uninstall) need_root uninstall; do_uninstall ;;
    guard) need_root guard; do_guard ;;
    status) do_status ;;
    method)
        itype=$(instance_type) || itype=''
        [ -n "$itype" ] || die "cannot read this instance's type from the instance metadata service; pass --instance-type."
        method_for "$itype"
        ;;
    '') usage_error "no command given; the commands are apply, remove, install, uninstall, guard, status and method." ;;
    *) usage_error "unknown command $CMD; the commands are apply, remove, install, uninstall, guard, status and method." ;;
esac
