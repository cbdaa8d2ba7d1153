"""A real Redis Sentinel set-up for tests on 127.0.0.1: a master, a replica and two sentinels.

The sentinels (``redis-server sentinel.conf --sentinel``, quorum 1) watch the service
``qmark``; a master down for 1 s is failed over to the replica within a few seconds.
:meth:`SentinelSetup.kill_master` SIGKILLs the master (whatever it held and had not yet
replicated is gone); :meth:`SentinelSetup.wait_for_failover` waits until the sentinels name
the replica as the new master.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis
from redis.sentinel import Sentinel

from tests.support.servers import RedisServer, free_port, require_binary, wait_for_port

SERVICE = "qmark"


class SentinelSetup:
    """Master + replica + two sentinels under ``workdir``; ``url`` is qmark's redis+sentinel:// URL."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.master = RedisServer(workdir / "master")
        follow = ["--replicaof", "127.0.0.1", str(self.master.port)]
        self.replica = RedisServer(workdir / "replica", args=follow)
        self.sentinel_ports = [free_port(), free_port()]
        self.sentinels: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def start(self) -> None:
        self.master.start()
        self.replica.start()
        binary = require_binary("redis-server", "redis-server")
        for port in self.sentinel_ports:
            directory = self.workdir / f"sentinel-{port}"
            directory.mkdir(parents=True, exist_ok=True)
            conf = directory / "sentinel.conf"  # sentinel rewrites it: it must be a writable file
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.master.port} 1\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 3000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            self.sentinels.append(
                subprocess.Popen(
                    [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
            wait_for_port(port)
        self._wait(lambda: self._knows_replica(), "the sentinels to see the replica in sync")

    def master_port(self) -> int:
        """The master's port as the first sentinel names it now."""
        client = redis.Redis(port=self.sentinel_ports[0], socket_timeout=2)
        host_port = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        return int(host_port[1])

    def kill_master(self) -> None:
        """SIGKILL the master, as when its machine dies (see :meth:`wait_for_failover`)."""
        self.master.stop()

    def wait_for_failover(self) -> None:
        """Return once the sentinels promoted the replica and it acts as master."""
        self._wait(lambda: self.master_port() == self.replica.port, "the sentinels to promote the replica")
        self._wait(
            lambda: redis.Redis(port=self.replica.port).info("replication")["role"] == "master",
            "the replica to act as master",
        )
        # The sentinels may name it a moment before they stop flagging it: wait for a client's view.
        sentinel = Sentinel([("127.0.0.1", port) for port in self.sentinel_ports], socket_timeout=2)
        self._wait(
            lambda: sentinel.discover_master(SERVICE)[1] == self.replica.port, "clients to see the new master"
        )

    def stop(self) -> None:
        for process in self.sentinels:
            process.kill()
            process.wait()
        self.sentinels = []
        self.replica.stop()
        self.master.stop()

    def _knows_replica(self) -> bool:
        replication = redis.Redis(port=self.replica.port).info("replication")
        if replication.get("master_link_status") != "up":
            return False
        for port in self.sentinel_ports:
            client = redis.Redis(port=port, socket_timeout=2)
            replicas = client.execute_command("SENTINEL", "REPLICAS", SERVICE)
            if not any(str(self.replica.port) in str(entry) for entry in replicas):
                return False
        return True

    @staticmethod
    def _wait(predicate: object, what: str, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if predicate():  # type: ignore[operator]
                    return
            except redis.RedisError:  # MasterNotFoundError too: not yet
                pass
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")
