# Shared by every maintainer script of ambari-agent-go (the build puts it
# in front of each). POSIX sh. $DPKG_ROOT is set when dpkg installs into
# another root (dpkg --root with --force-script-chrootless): paths are
# taken under it and no service is touched.
root="${DPKG_ROOT:-}"
# Whether the agent ran before this step, and how, kept between the
# scripts of one install or removal.
was_running="$root/var/lib/ambari-agent/ambari-agent-go.was-running"

has_systemd() { [ -z "$root" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# stop_agent stops whichever agent runs now and remembers how it ran.
stop_agent() {
    [ -z "$root" ] || return 0
    if has_systemd && systemctl is-active --quiet ambari-agent; then
        echo systemd > "$was_running" 2>/dev/null || true
        systemctl stop ambari-agent || true
    elif [ -x /usr/sbin/ambari-agent ] && /usr/sbin/ambari-agent status >/dev/null 2>&1; then
        echo script > "$was_running" 2>/dev/null || true
        /usr/sbin/ambari-agent stop >/dev/null 2>&1 || true
    fi
}

# start_agent starts the agent now installed if one ran before, the way
# it ran.
start_agent() {
    [ -z "$root" ] || return 0
    how=$(cat "$was_running" 2>/dev/null || true)
    rm -f "$was_running"
    case "$how" in
    systemd) systemctl start ambari-agent || echo "ambari-agent-go: systemctl start ambari-agent failed" >&2 ;;
    script) /usr/sbin/ambari-agent start || echo "ambari-agent-go: ambari-agent start failed" >&2 ;;
    esac
}

reload_systemd() { if has_systemd; then systemctl daemon-reload || true; fi; }

# Whether the agent now installed starts at boot, kept from preinst to
# postinst.
was_enabled="$root/var/lib/ambari-agent/ambari-agent-go.was-enabled"

# remember_boot records whether ambari-agent starts at boot now (the Python
# package enables its init script; the operator may have disabled it).
remember_boot() {
    [ -z "$root" ] || return 0
    if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled --quiet ambari-agent 2>/dev/null; then
        : > "$was_enabled" 2>/dev/null || true
    fi
}

# enable_as_before enables this package's unit if ambari-agent started at
# boot before: a native unit is not started from the init script's links.
enable_as_before() {
    [ -f "$was_enabled" ] || return 0
    rm -f "$was_enabled"
    systemctl --quiet enable ambari-agent.service 2>/dev/null || true
}

# unit_off removes this package's boot link only. Not `systemctl disable`,
# which would also remove the init script's rc links, and with them the
# Python agent's start at boot.
unit_off() {
    rm -f "$root/etc/systemd/system/multi-user.target.wants/ambari-agent.service"
}

# fix_modes sets what the Python package's install helper sets: every
# user's scripts write to tmp; keys and data hold secrets.
fix_modes() {
    d="$root/var/lib/ambari-agent"
    [ -d "$d" ] || return 0
    chmod a+x "$d"
    mkdir -p "$d/tmp" "$d/keys" "$d/data"
    chmod 1777 "$d/tmp"
    chmod 700 "$d/keys" "$d/data"
}
