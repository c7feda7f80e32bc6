AMBARI_SUDO_BINARY = "ambari-sudo.sh"
