#!/usr/bin/env bash
# irc_tls.sh -- the IRC transport over TLS to a real ngircd on loopback,
# with a certificate the test makes (for "localhost" only): trusted when the
# config names it, the bot registers, joins and answers; not named, it is
# refused as self-signed; named but reached as 127.0.0.1, the name does not
# match and it is refused. A refused server is retried with backoff, not
# in a storm, and the reason is one clear log line.
. "$(dirname "$0")/irc_lib.inc"

need_ngircd
command -v openssl >/dev/null || skip "openssl not installed (scripts/deps installs it)"
build_driver || { echo "# could not build the driver"; exit 1; }
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	-addext subjectAltName=DNS:localhost -keyout "$T/server.key" \
	-out "$T/server.crt" >"$T/openssl.log" 2>&1 || { echo "# openssl req failed"; exit 1; }
chmod 644 "$T/server.key" "$T/server.crt"
TLS_PORT=$(free_port)
start_ircd
wait_port "$TLS_PORT" 5

# 1. the certificate named in the config: trusted
"$DRIVER" --host localhost --port "$TLS_PORT" --tls 1 --ca-file "$T/server.crt" \
	--nick tlsbot --chan '#support' --backoff-min-ms 500 --backoff-max-ms 1000 \
	--pm-over-lines 2 \
	>>"$T/bot.log" 2>&1 &
BOT_PID=$!
BOT=tlsbot
export BOT
scenario "TLS with the server's certificate named: the bot registers, joins and answers" <<'PY'
c = Client(PORT, "ann"); c.join("#support")
ok = c.sees("#support", BOT)
print("bot in #support:", ok)
c.send("PRIVMSG #support :%s: does TLS work #1?" % BOT)
m = c.wait(from_bot(BOT), 10)
print("got:", m and m["params"])
sys.exit(0 if ok and m and "ANSWER #1" in m["params"][1] else 1)
PY
scenario "with pm-over-lines 2, a long answer goes privately with a note in the channel" <<'PY'
c = Client(PORT, "bob"); c.join("#support")
c.send("PRIVMSG #support :%s: the LONG answer please?" % BOT)
note = c.wait(lambda m: m["nick"] == BOT and m["params"][0] == "#support", 10)
got = []
while True:
    m = c.wait(lambda m: m["nick"] == BOT and m["params"][0] == "bob", 10)
    if m is None:
        break
    got.append(m)
    if m["params"][1].endswith("END-OF-LONG"):
        break
print("note:", note and note["params"][1]); print("private lines:", len(got))
sys.exit(0 if note and "private message" in note["params"][1] and "bob" in note["params"][1]
         and len(got) >= 3 and got[-1]["params"][1].endswith("END-OF-LONG") else 1)
PY
stop_bot
check "SIGTERM over TLS: exit 0 within 2 s (${STOP_MS} ms)" \
	test "$STOP_RC" = 0 -a "$STOP_MS" -lt 2000

# 2. not named: the system's trust store does not know it
: >"$T/bot2.log"
"$DRIVER" --host localhost --port "$TLS_PORT" --tls 1 --nick untrusted \
	--chan '#support' --backoff-min-ms 1000 --backoff-max-ms 2000 >>"$T/bot2.log" 2>&1 &
BOT_PID=$!
sleep 4
stop_bot
n=$(grep -c "certificate verify failed" "$T/bot2.log")
check "a self-signed certificate not named is refused, with a clear error" \
	grep -q "certificate verify failed: self-signed certificate" "$T/bot2.log"
check "and retried with backoff, not a storm ($n tries in 4 s)" test "$n" -ge 1 -a "$n" -le 6
check "the refused bot never registered" bash -c "! grep -q 'registered as' '$T/bot2.log'"
sed 's/^/#   /' "$T/bot2.log" | grep -m1 "certificate verify failed"
cat "$T/bot2.log" >>"$T/bot.log"

# 3. named, but reached by an address the certificate does not name
: >"$T/bot3.log"
"$DRIVER" --host 127.0.0.1 --port "$TLS_PORT" --tls 1 --ca-file "$T/server.crt" \
	--nick wrongname --backoff-min-ms 1000 --backoff-max-ms 2000 >>"$T/bot3.log" 2>&1 &
BOT_PID=$!
sleep 2
stop_bot
check "a certificate for another name (localhost, reached as 127.0.0.1) is refused" \
	grep -q "certificate verify failed" "$T/bot3.log"
sed 's/^/#   /' "$T/bot3.log" | grep -m1 "certificate verify failed"
cat "$T/bot3.log" >>"$T/bot.log"
finish
