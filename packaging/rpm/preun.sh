# $1: 0 when the package is removed, 1 on upgrade.
if [ "$1" = 0 ]; then
    stop_agent
    unit_off
fi
exit 0
