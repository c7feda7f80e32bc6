# Runs after each install or upgrade of ambari-agent (after its %post,
# which links /usr/sbin/ambari-agent to its own init script).
ln -sfn /usr/lib/ambari-agent-go/ambari-agent /usr/sbin/ambari-agent
exit 0
