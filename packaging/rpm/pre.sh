# $1: 1 on first install, 2 on upgrade. The agent now installed (the
# Python one, or this package's older version) is stopped; %post starts
# the new one if it ran.
remember_boot
stop_agent
exit 0
