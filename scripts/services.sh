#!/usr/bin/env bash
# Start the services the tests talk to, each only when it is not running, and wait until it
# accepts connections: PostgreSQL 127.0.0.1:5432, Redis 6379, RabbitMQ 5672. The commands are
# those of the machine's page (/work/.library/env/machines/python-svc.md). scripts/test.sh runs
# this before pytest; the tests themselves never start a service, they fail naming this script.
set -euo pipefail

listening() {  # host port
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for() {  # name port seconds
    local name=$1 port=$2 seconds=$3
    for ((i = 0; i < seconds * 4; i++)); do
        listening 127.0.0.1 "$port" && return 0
        sleep 0.25
    done
    echo "$name did not start on 127.0.0.1:$port within $seconds s" >&2
    return 1
}

if ! listening 127.0.0.1 5432; then
    echo "== starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
    wait_for PostgreSQL 5432 60
fi

if ! listening 127.0.0.1 6379; then
    echo "== starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for Redis 6379 30
fi

if ! listening 127.0.0.1 5672; then
    echo "== starting RabbitMQ"
    rabbitmq-server -detached
    wait_for RabbitMQ 5672 120
fi
