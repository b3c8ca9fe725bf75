# redis-server driven by redis-benchmark over loopback; the replies the client sees are compared,
# and the server must shut down cleanly (exit 0).
port=$(( 20000 + RANDOM % 20000 ))
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  --dir "$PWD" > scratch-redis.log 2>&1 &
server=$!
for _ in $(seq 1 100); do redis-cli -p "$port" ping > /dev/null 2>&1 && break; sleep 0.1; done
redis-benchmark -p "$port" -q -n 20000 -c 8 -P 8 -t set,get,lpush,incr > scratch-benchmark.log
redis-cli -p "$port" dbsize > redis.out
redis-cli -p "$port" llen mylist >> redis.out
redis-cli -p "$port" get counter:__rand_int__ >> redis.out
redis-cli -p "$port" set greeting hello >> redis.out
redis-cli -p "$port" get greeting >> redis.out
redis-cli -p "$port" shutdown nosave > /dev/null 2>&1
wait "$server"
echo "server exit $?" >> redis.out
rm -f scratch-*
