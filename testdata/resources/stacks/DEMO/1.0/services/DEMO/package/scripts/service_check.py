"""SERVICE_CHECK of DEMO: fetch the DEMO_SERVER's page.

The server host comes from clusterHostInfo (demo_server_hosts), the port from
demo-env/server_port; with port 0 the port file of a server on this host is
read instead.
"""

import os
import sys
import urllib.request

from demo_common import Command, install_dir


def service_check(cmd):
    hosts = (cmd.config.get("clusterHostInfo") or {}).get("demo_server_hosts") or []
    if not hosts:
        print("No DEMO_SERVER in clusterHostInfo", file=sys.stderr)
        sys.exit(1)
    port = str(cmd.configuration("demo-env", "server_port", "0"))
    host = hosts[0]
    if port == "0":
        with open(os.path.join(install_dir(cmd, "DEMO_SERVER"), "demo_server.port")) as f:
            port = f.read().strip()
        host = "127.0.0.1"
    url = "http://%s:%s/" % (host, port)
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = resp.read().decode().strip()
    print("%s answered: %s" % (url, body))
    cmd.put_structured_out({"service_check": body})


if __name__ == "__main__":
    Command(sys.argv).run({"service_check": service_check})
