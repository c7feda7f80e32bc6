ln -sfn /usr/lib/ambari-agent-go/ambari-agent /usr/sbin/ambari-agent
fix_modes
reload_systemd
if [ "$1" = 1 ]; then set_unit enable; fi
start_agent
exit 0
