# $1: 1 on first install, 2 on upgrade.
if [ "$1" = 1 ]; then stop_agent; fi
exit 0
