#!/usr/bin/env bash
# irc_sasl.sh -- SASL PLAIN (ircv3 sasl-3.1) against a Python stand-in
# server on loopback, for what a real one seldom does (irc_services.sh has
# InspIRCd with Atheme): CAP LS/REQ/ACK, AUTHENTICATE in 400-byte chunks, 903, then CAP
# END and registration; a wrong password ends the bot with a clear error and
# no second connection; a server without the sasl capability likewise. The
# password never reaches the bot's log.
. "$(dirname "$0")/irc_lib.inc"

build_driver || { echo "# could not build the driver"; exit 1; }

cat >"$T/saslircd.py" <<'PY'
import base64, os, socket, sys, threading
from ircc import listen
port_file, log_file, want = sys.argv[1], sys.argv[2], os.environ["SASL_WANT"]
log = open(log_file, "a", buffering=1)
srv = listen(port_file)

def serve(c, n):
    buf, nick, authbuf, capend, user, ls_pending = b"", None, "", False, False, False
    def send(s): c.sendall(s.encode() + b"\r\n")
    c.settimeout(20)
    while True:
        try:
            d = c.recv(4096)
        except OSError:
            break
        if not d:
            break
        buf += d
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line = raw.decode().rstrip("\r")
            p = line.split(" ")
            cmd = p[0].upper()
            if cmd == "AUTHENTICATE" and p[1] not in ("PLAIN", "+"):
                log.write("conn %d AUTHENTICATE chunk %d\n" % (n, len(p[1])))
            else:
                log.write("conn %d recv %s\n" % (n, line))
            if cmd == "NICK":
                nick = p[1]
                if ls_pending:  # CAP LS comes first: answer once the nick says which case
                    send(":s CAP * LS :multi-prefix" + ("" if nick == "nosasl" else " sasl=PLAIN,EXTERNAL"))
                    ls_pending = False
            elif cmd == "USER":
                user = True
            elif line.startswith("CAP LS"):
                ls_pending = True
            elif line.startswith("CAP REQ"):
                send(":s CAP * ACK :sasl")
            elif line == "AUTHENTICATE PLAIN":
                send("AUTHENTICATE +")
            elif cmd == "AUTHENTICATE":
                if p[1] != "+":
                    authbuf += p[1]
                if p[1] == "+" or len(p[1]) < 400:
                    got = base64.b64decode(authbuf).decode()
                    if got == "bot\0bot\0" + want:
                        log.write("conn %d auth ok\n" % n)
                        send(":s 900 %s %s!u@h bot :You are now logged in" % (nick, nick))
                        send(":s 903 %s :SASL authentication successful" % nick)
                    else:
                        log.write("conn %d auth bad\n" % n)
                        send(":s 904 %s :SASL authentication failed" % nick)
            elif line == "CAP END":
                capend = True
            if capend and user and nick:
                send(":s 001 %s :Welcome %s!u@h" % (nick, nick))
                send(":someone!u@h PRIVMSG %s :is SASL fine #1?" % nick)
                capend = False
    log.write("conn %d closed\n" % n)

n = 0
while True:
    c, _ = srv.accept()
    n += 1
    log.write("conn %d open\n" % n)
    threading.Thread(target=serve, args=(c, n), daemon=True).start()
PY
# a long password (two AUTHENTICATE chunks), with a space and UTF-8
GOOD="right pw caf$(printf '\303\251') $(printf 'x%.0s' $(seq 340))"
SASL_WANT=$GOOD start_port_server "$T/sport" 5 python3 "$T/saslircd.py" "$T/sport" "$T/sasl.log"


SASL_PW=$GOOD start_bot --nick faqbot --sasl-account bot --sasl-password-env SASL_PW
check "SASL PLAIN with the right password: logged in (two chunks), registered, answering" \
	wait_for 10 grep -q "conn 1 recv PRIVMSG someone :ANSWER #1" "$T/sasl.log"
check "the payload went in two chunks of base64" \
	test "$(grep -c 'conn 1 AUTHENTICATE chunk' "$T/sasl.log")" = 2
check "CAP END came after the login" \
	bash -c "grep -n 'conn 1 auth ok\|conn 1 recv CAP END' '$T/sasl.log' | head -1 | grep -q 'auth ok'"
stop_bot

# a wrong password: a clear error, exit 1, and no second try
: >"$T/bad.log"
t0=$(date +%s)
SASL_PW="wrong pw" timeout 20 "$DRIVER" --host 127.0.0.1 --port "$PORT" --nick faqbot \
	--sasl-account bot --sasl-password-env SASL_PW --backoff-min-ms 500 >"$T/bad.log" 2>&1
rc=$?
dt=$(($(date +%s) - t0))
sed 's/^/#   /' "$T/bad.log" | grep -m1 "SASL"
check "a wrong SASL password: exit 1 at once (${dt} s) with a clear error" \
	bash -c "[ $rc = 1 ] && [ $dt -le 5 ] && grep -q 'SASL: the server refused the account or password' '$T/bad.log'"
check "and only one connection for it (no reconnect storm)" \
	test "$(grep -c 'conn . open' "$T/sasl.log")" = 2
cat "$T/bad.log" >>"$T/bot.log"

: >"$T/nosasl.log"
SASL_PW="x" timeout 20 "$DRIVER" --host 127.0.0.1 --port "$PORT" --nick nosasl \
	--sasl-account bot --sasl-password-env SASL_PW >"$T/nosasl.log" 2>&1
rc=$?
check "a server without SASL: exit 1, \"does not offer it\"" \
	bash -c "[ $rc = 1 ] && grep -q 'does not offer' '$T/nosasl.log'"
cat "$T/nosasl.log" >>"$T/bot.log"
check "no password in the bot's log" \
	bash -c "! grep -qE 'right pw|wrong pw|xxxxxxxx' '$T/bot.log'"
finish
