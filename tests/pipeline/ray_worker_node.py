"""`ray start` for a second node on this machine, kept on loopback (used by test_two_nodes.py).

Ray's CLI refuses a worker node while RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, the setting
that keeps its servers on 127.0.0.1; with it set to 1 the CLI turns --node-ip-address
127.0.0.1 into the machine's network address. This wrapper lets the CLI through its
guard and keeps 127.0.0.1 as given; the processes it starts inherit the variable (0) and
bind to loopback like the head's.

    python tests/pipeline/ray_worker_node.py start --address=127.0.0.1:PORT --node-ip-address=127.0.0.1 ...
"""

from __future__ import annotations

import sys

from ray._private import ray_constants, services
from ray.scripts.scripts import main

if __name__ == "__main__":
    ray_constants.ENABLE_RAY_CLUSTER = True  # past the CLI's worker-node guard only
    services.resolve_ip_for_localhost = lambda host: host  # 127.0.0.1 stays 127.0.0.1
    sys.argv = ["ray", *sys.argv[1:]]
    sys.exit(main())
