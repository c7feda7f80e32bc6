# $1: 0 when the package is removed: the Python agent gets the command
# and the service back.
if [ "$1" = 0 ]; then
    if [ -e /etc/init.d/ambari-agent ]; then
        ln -sfn /etc/init.d/ambari-agent /usr/sbin/ambari-agent
    fi
    reload_systemd
    start_agent
fi
exit 0
