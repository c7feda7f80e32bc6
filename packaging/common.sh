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

# set_unit enable|disable: the Python package starts its agent at boot
# (update-rc.d / chkconfig); a native unit is not started from those
# links, so this package's unit is enabled while it is installed.
set_unit() {
    command -v systemctl >/dev/null 2>&1 || return 0
    if [ -n "$root" ]; then
        systemctl --root="$root" --quiet "$1" ambari-agent.service 2>/dev/null || true
    else
        systemctl --quiet "$1" ambari-agent.service 2>/dev/null || true
    fi
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
