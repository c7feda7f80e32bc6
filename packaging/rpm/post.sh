ln -sfn /usr/lib/ambari-agent-go/ambari-agent /usr/sbin/ambari-agent
fix_modes
reload_systemd
enable_as_before
start_agent
exit 0
