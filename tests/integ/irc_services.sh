#!/usr/bin/env bash
# irc_services.sh -- the IRC transport against a real network with
# services: InspIRCd (plain and TLS listeners) linked to Atheme (NickServ,
# SaslServ), both run as the unprivileged irc user in a mktemp -d folder on
# free loopback ports. A test member registers the bot's account with
# NickServ and adds the fingerprint of a client certificate with NickServ
# CERT ADD; then:
#   - SASL PLAIN logs the bot in (900, 903; WHOIS shows the account);
#   - account-tag: a logged-in member's message reaches the handler with
#     sender_account set, a guest's with NULL;
#   - a wrong password: one clear error, exit 1, one connection only;
#   - SASL EXTERNAL with that certificate over TLS logs the bot in;
#   - a certificate on no account: one clear error, exit 1, one connection;
#   - services down at a reconnect (Atheme stopped, InspIRCd restarted): the
#     bot stays up, says so and retries, and logs in again once Atheme is
#     back.
. "$(dirname "$0")/irc_lib.inc"

need_inspircd
need_atheme
command -v openssl >/dev/null || skip "openssl not installed (scripts/deps installs it)"
build_driver || { echo "# could not build the driver"; exit 1; }

# the server's certificate (for localhost), the bot's client certificate
# and one that no account knows
{
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
		-addext subjectAltName=DNS:localhost -keyout "$T/server.key" -out "$T/server.crt"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=faqbot \
		-keyout "$T/bot.key" -out "$T/bot.crt"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=stranger \
		-keyout "$T/other.key" -out "$T/other.crt"
} >"$T/openssl.log" 2>&1 || { echo "# openssl req failed"; exit 1; }
chmod 600 "$T/bot.key" "$T/other.key"
# InspIRCd's sha256 fingerprint: of the DER certificate, lower-case hex
FP=$(openssl x509 -in "$T/bot.crt" -outform DER | sha256sum | cut -d' ' -f1)

TLS_PORT=$(free_port)
LINK_PORT=$(free_port)
start_inspircd
start_atheme
export BOT=faqbot FP T
GOOD="right pw $(printf 'caf\303\251') 42"
export GOOD

scenario "set-up: NickServ REGISTER for the bot's account and a member's, CERT ADD of the bot's certificate" <<'PY'
def register(nick, pw, extra=None):
    c = Client(PORT, nick)
    c.send("PRIVMSG NickServ :REGISTER %s %s@example.org" % (pw, nick))
    m = c.wait(lambda m: m["cmd"] == "900", 15)
    print("%s: %s" % (nick, m and m["params"][-1]))
    ok = m is not None
    if ok and extra:
        c.send("PRIVMSG NickServ :" + extra)
        n = c.wait(lambda m: m["cmd"] == "NOTICE" and m["nick"] == "NickServ"
                   and "fingerprint" in m["params"][-1].lower(), 15)
        print("%s: %s" % (nick, n and n["params"][-1]))
        ok = n is not None and "added" in n["params"][-1].lower()
    c.close()
    return ok
ok = register("faqbot", os.environ["GOOD"].replace(" ", "-"), "CERT ADD " + os.environ["FP"])
ok = register("alice", "alice-pw-77") and ok
sys.exit(0 if ok else 1)
PY
# NickServ passwords are one word: the bot logs in with the same, dashed
GOOD=${GOOD// /-}

# 1. SASL PLAIN on the plain listener
SASL_PW=$GOOD start_bot --nick faqbot --sasl-account faqbot --sasl-password-env SASL_PW \
	--chan '#support' --backoff-min-ms 500 --backoff-max-ms 1000
scenario "SASL PLAIN: the bot is logged in (900 and 903), registered, in #support" <<'PY'
c = Client(PORT, "watcher")
c.sees("#support", BOT)
c.send("WHOIS " + BOT)
m = c.wait(lambda m: m["cmd"] in ("330", "318"), 10)
print("WHOIS:", m and m["params"])
log = open(os.environ["T"] + "/bot.log").read()
print("logged in (900):", "SASL PLAIN: logged in as faqbot" in log)
sys.exit(0 if m and m["cmd"] == "330" and m["params"][2] == "faqbot"
         and "SASL PLAIN: logged in as faqbot" in log and "registered as faqbot" in log else 1)
PY

scenario "account-tag: a logged-in member's message carries the account, a guest's none" <<'PY'
a = Client(PORT, "alice"); a.join("#support")
a.send("PRIVMSG NickServ :IDENTIFY alice-pw-77")
a.wait(lambda m: m["cmd"] == "900", 10)
a.send("PRIVMSG #support :%s: WHOAMI" % BOT)
m1 = a.wait(from_bot(BOT), 10)
a.send("PRIVMSG %s :WHOAMI" % BOT)
m2 = a.wait(from_bot(BOT), 10)
g = Client(PORT, "guest"); g.join("#support")
g.send("PRIVMSG #support :%s: WHOAMI" % BOT)
m3 = g.wait(from_bot(BOT), 10)
for m in (m1, m2, m3):
    print("got:", m and m["params"])
sys.exit(0 if m1 and m1["params"] == ["#support", "ACCOUNT=alice POWER=-1"]
         and m2 and m2["params"] == ["alice", "ACCOUNT=alice POWER=-1"]
         and m3 and m3["params"] == ["#support", "ACCOUNT=(none) POWER=-1"] else 1)
PY
stop_bot
check "SIGTERM: exit 0 within 2 s (${STOP_MS} ms)" test "$STOP_RC" = 0 -a "$STOP_MS" -lt 2000

# 2. a wrong password: a clear error, exit 1 at once, no second connection
t0=$(date +%s)
SASL_PW="wrong-pw" timeout 30 "$DRIVER" --host 127.0.0.1 --port "$PORT" --nick faqbot \
	--sasl-account faqbot --sasl-password-env SASL_PW --backoff-min-ms 200 >"$T/bad.log" 2>&1
rc=$?
dt=$(($(date +%s) - t0))
grep -m1 "SASL" "$T/bad.log" | sed 's/^/#   /'
check "a wrong SASL password: exit 1 (${dt} s) with a clear error" \
	bash -c "[ $rc = 1 ] && [ $dt -le 10 ] && grep -q 'SASL: the server refused the account or password' '$T/bad.log'"
check "and one connection only (no reconnect storm)" \
	test "$(grep -c 'irc: connected to' "$T/bad.log")" = 1
cat "$T/bad.log" >>"$T/bot.log"

# 3. SASL EXTERNAL over TLS with the certificate NickServ knows
: >"$T/ext.log"
"$DRIVER" --host localhost --port "$TLS_PORT" --tls 1 --ca-file "$T/server.crt" \
	--cert "$T/bot.crt" --key "$T/bot.key" --sasl-mechanism EXTERNAL --nick faqbot \
	--chan '#support' --backoff-min-ms 500 >>"$T/ext.log" 2>&1 &
BOT_PID=$!
scenario "SASL EXTERNAL: the bot's certificate logs it in over TLS; it answers" <<'PY'
c = Client(PORT, "watcher2"); c.join("#support")
c.sees("#support", BOT)
c.send("WHOIS " + BOT)
m = c.wait(lambda m: m["cmd"] in ("330", "318"), 10)
print("WHOIS:", m and m["params"])
c.send("PRIVMSG #support :%s: does EXTERNAL work #1?" % BOT)
a = c.wait(from_bot(BOT), 10)
print("got:", a and a["params"])
log = open(os.environ["T"] + "/ext.log").read()
sys.exit(0 if m and m["cmd"] == "330" and m["params"][2] == "faqbot"
         and "SASL EXTERNAL: logged in as faqbot" in log
         and a and "ANSWER #1" in a["params"][1] else 1)
PY
stop_bot
cat "$T/ext.log" >>"$T/bot.log"

# 4. a certificate no account knows: a clear error, exit 1, one connection
t0=$(date +%s)
timeout 30 "$DRIVER" --host localhost --port "$TLS_PORT" --tls 1 --ca-file "$T/server.crt" \
	--cert "$T/other.crt" --key "$T/other.key" --sasl-mechanism EXTERNAL --nick stranger \
	--backoff-min-ms 200 >"$T/bad2.log" 2>&1
rc=$?
dt=$(($(date +%s) - t0))
grep -m1 "SASL" "$T/bad2.log" | sed 's/^/#   /'
check "SASL EXTERNAL with a certificate on no account: exit 1 (${dt} s) with a clear error" \
	bash -c "[ $rc = 1 ] && [ $dt -le 10 ] && grep -q 'SASL EXTERNAL: the server refused the client certificate' '$T/bad2.log'"
check "and one connection only (no reconnect storm)" \
	test "$(grep -c 'irc: connected to' "$T/bad2.log")" = 1
cat "$T/bad2.log" >>"$T/bot.log"
# 5. services down at a reconnect: the bot waits for them and comes back
: >"$T/down.log"
SASL_PW=$GOOD "$DRIVER" --host 127.0.0.1 --port "$PORT" --nick faqbot --sasl-account faqbot \
	--sasl-password-env SASL_PW --chan '#support' --backoff-min-ms 500 --backoff-max-ms 2000 \
	--state-dir "$T/state" >>"$T/down.log" 2>&1 &
BOT_PID=$!
logins() { grep -c "SASL PLAIN: logged in as faqbot" "$T/down.log"; }
check "services down: the bot logs in first" wait_for 30 bash -c "[ \$(grep -c 'registered as faqbot' '$T/down.log') -ge 1 ]"
stop_atheme
stop_inspircd
start_inspircd
retried() { [ "$(grep -c 'the services may be down: retrying' "$T/down.log")" -ge 2 ]; }
check "the server is back without its services: no SASL, logged and retried (twice at least)" \
	wait_for 30 retried
grep -m1 "services may be down" "$T/down.log" | sed 's/^/#   /'
kill -0 "$BOT_PID" 2>/dev/null && ok "the bot stays up while the services are down" ||
	notok "the bot stays up while the services are down"
start_atheme
back() { [ "$(logins)" -ge 2 ]; }
check "the services are back: the bot logs in again" wait_for 30 back
scenario "and is registered with its account, in #support, answering" <<'PY'
c = Client(PORT, "watcher3"); c.join("#support")
c.sees("#support", BOT)
c.send("WHOIS " + BOT)
m = c.wait(lambda m: m["cmd"] in ("330", "318"), 10)
print("WHOIS:", m and m["params"])
c.send("PRIVMSG #support :%s: back with services #5?" % BOT)
a = c.wait(from_bot(BOT), 10)
print("got:", a and a["params"])
sys.exit(0 if m and m["cmd"] == "330" and m["params"][2] == "faqbot"
         and a and "ANSWER #5" in a["params"][1] else 1)
PY
stop_bot
check "SIGTERM: exit 0 (${STOP_MS} ms)" test "$STOP_RC" = 0 -a "$STOP_MS" -lt 2000
cat "$T/down.log" >>"$T/bot.log"
check "no password in the bot's log" bash -c "! grep -qF -e '$GOOD' -e 'wrong-pw' '$T/bot.log'"
finish
