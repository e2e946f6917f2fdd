# Sourced by the shell test tiers (integration, interop, clientlive, perf)
# after they set PORTS_DIR to their private temporary directory.
# free_port prints a loopback TCP port that no socket of any state uses,
# that this run has not handed out before (remembered in a file, as
# free_port runs in a command substitution's subshell), and that lies below
# the kernel's ephemeral range, so no outgoing connection can come to hold
# it between the pick and the node's bind.
: "${PORTS_DIR:?set PORTS_DIR before sourcing ports.sh}"
free_port() {
    local port hex low picked=$PORTS_DIR/.ports-picked
    low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    [ "${low:-0}" -gt 21000 ] || low=32768
    touch "$picked"
    for _ in $(seq 1000); do
        port=$((20000 + RANDOM % (low - 20000)))
        hex=$(printf ':%04X ' "$port")
        grep -qx "$port" "$picked" && continue
        grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null && continue
        echo "$port" >>"$picked"
        echo "$port"
        return 0
    done
    echo "free_port: no free port" >&2
    return 1
}
