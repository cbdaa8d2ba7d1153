#!/bin/sh
# Make sure a Redis answers on 127.0.0.1:6379 for `make run`; start a persistent one under var/ if not.
set -eu
if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then exit 0; fi
mkdir -p var/redis
redis-server --bind 127.0.0.1 --port 6379 --dir "$(pwd)/var/redis" --appendonly yes \
  --maxmemory-policy noeviction --daemonize yes --pidfile "$(pwd)/var/redis/redis.pid" \
  --logfile "$(pwd)/var/redis/redis.log"
for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && exit 0; sleep 0.1; done
echo "redis-server did not start; see var/redis/redis.log" >&2; exit 1
