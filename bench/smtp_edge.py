"""The SMTP edge under idle and slowloris load: a normal sender's time to 250.

Starts a throw-away redis-server and a temporary SQLite database, runs the SMTP role in a thread
exactly as the tests do (tests/support/runners.smtp_in_thread; ``max_connections`` and
``max_connections_per_peer`` raised to 1000, since every client here is 127.0.0.1), sends
--count messages with nothing else open (the baseline), then opens --idle connections that read
the banner and say nothing plus a slowloris (``EHLO`` one byte every --drip seconds) and sends
--count messages again, one connection each, --gap seconds apart (so the run spans the
slowloris' drips). Latency = connect -> DATA's 250.
Prints p50/p99/max for both phases and ``RESULT {json}``; the issue's aim is p99 < 1 s under load.
Exit 0 when the run completed.

    .venv/bin/python bench/smtp_edge.py [--count 50] [--idle 500] [--drip 10] [--gap 0.25]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.store.migrate import upgrade
from tests.support.edge_load import Slowloris, idle_connections, timed_send
from tests.support.runners import qmark_env, settings_from, smtp_in_thread
from tests.support.servers import RedisServer


def figures(seconds: list[float]) -> dict[str, float]:
    """p50, p99 and max of ``seconds``, in milliseconds."""
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {
        "p50_ms": round(statistics.median(seconds) * 1000, 1),
        "p99_ms": round(cuts[98] * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="messages per phase")
    parser.add_argument("--idle", type=int, default=500, help="idle connections held open")
    parser.add_argument("--drip", type=float, default=10.0, help="seconds between the slowloris' bytes")
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between loaded sends (spans drips)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="qmark-bench-edge-"))
    redis = RedisServer(root / "redis")
    redis.start()
    try:
        from workers.bootstrap import build

        url = f"sqlite:///{root / 'qmark.db'}"
        upgrade(url)
        env = qmark_env(
            database_url=url,
            redis_url=redis.url,
            outbound_url=f"maildir:{root / 'sent'}",
            QMARK_SMTP__MAX_CONNECTIONS="1000",
            QMARK_SMTP__MAX_CONNECTIONS_PER_PEER="1000",
        )
        app = build(settings=settings_from(env))
        host, port = app.settings.smtp.host_port
        with smtp_in_thread(app):
            quiet = [timed_send(host, port) for _ in range(args.count)]
            with idle_connections(host, port, args.idle), Slowloris(host, port, args.drip) as slow:
                loaded = []
                for _ in range(args.count):
                    loaded.append(timed_send(host, port))
                    time.sleep(args.gap)
                slow_alive = not slow.closed_by_server.is_set()
    finally:
        redis.stop()
    result = {
        "count": args.count,
        "idle": args.idle,
        "drip_s": args.drip,
        "gap_s": args.gap,
        "quiet": figures(quiet),
        "loaded": figures(loaded),
        "slowloris_still_open": slow_alive,
    }
    for name in ("quiet", "loaded"):
        got = result[name]
        assert isinstance(got, dict)
        print(
            f"{name:6} connect -> 250 over {args.count} messages: p50 {got['p50_ms']} ms, "
            f"p99 {got['p99_ms']} ms, max {got['max_ms']} ms"
        )
    loaded_p99 = figures(loaded)["p99_ms"]
    print(
        f"under {args.idle} idle + slowloris: p99 {loaded_p99} ms (aim < 1000 ms)  "
        f"{'PASS' if loaded_p99 < 1000 else 'MISS'}"
    )
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
