#!/usr/bin/env bash
# irc_sasl_retry.sh -- services down at a reconnect: against a Python
# stand-in server that follows a plan, one behaviour a connection. The bot
# logs in with SASL PLAIN and answers; the server drops it; then, as a
# network does while its services are down or out of step, it offers no
# sasl capability, offers it without PLAIN, refuses the login (908, 904),
# NAKs the capability, answers 905, aborts (906), and registers the bot
# without a login. Checked: the bot stays up through all of it, says each
# time what went wrong and that it retries (with the backoff), writes no
# health mark meanwhile, and logs in and answers again once the services
# are back. At a first start the same (a mechanism the server lacks) stays
# a clear fatal error, exit 1, one connection (irc_sasl.sh and
# irc_services.sh check the other first-start refusals).
. "$(dirname "$0")/irc_lib.inc"

build_driver || { echo "# could not build the driver"; exit 1; }

cat >"$T/planircd.py" <<'PY'
# Each connection takes the next word of the plan file (the last repeats):
#   ok-close  SASL works, 001, a question; closed once the bot answers
#   ok        SASL works, 001, a question; kept open
#   nocap     CAP LS without sasl        nomech  sasl=EXTERNAL only
#   refuse    908 and 904 to the login   nak     CAP NAK :sasl
#   toolong   905 to the login           abort   906 to the login
#   noauth    001 at once, CAP ignored
import base64, os, socket, sys, threading, time
from ircc import listen
port_file, log_file, plan_file = sys.argv[1:4]
log = open(log_file, "a", buffering=1)
srv = listen(port_file)

def serve(c, n, mode):
    buf, nick, user, capend, authbuf = b"", None, False, False, ""
    def send(s): c.sendall(s.encode() + b"\r\n")
    c.settimeout(30)
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
            if cmd != "AUTHENTICATE":
                log.write("conn %d recv %s\n" % (n, line))
            if cmd == "NICK":
                nick = p[1]
            elif cmd == "USER":
                user = True
                if mode == "noauth":
                    send(":s 001 %s :Welcome %s!u@h" % (nick, nick))
            elif line.startswith("CAP LS") and mode != "noauth":
                caps = {"nocap": "multi-prefix", "nomech": "multi-prefix sasl=EXTERNAL"}
                send(":s CAP * LS :" + caps.get(mode, "multi-prefix sasl=PLAIN,EXTERNAL"))
            elif line.startswith("CAP REQ"):
                send(":s CAP * %s :sasl" % ("NAK" if mode == "nak" else "ACK"))
            elif line == "AUTHENTICATE PLAIN":
                send("AUTHENTICATE +")
            elif cmd == "AUTHENTICATE":
                authbuf += p[1] if p[1] != "+" else ""
                if p[1] == "+" or len(p[1]) < 400:
                    if mode == "refuse":
                        send(":s 908 %s PLAIN,EXTERNAL :are available SASL mechanisms" % nick)
                        send(":s 904 %s :SASL authentication failed" % nick)
                    elif mode == "toolong":
                        send(":s 905 %s :SASL message too long" % nick)
                    elif mode == "abort":
                        send(":s 906 %s :SASL authentication aborted" % nick)
                    elif base64.b64decode(authbuf).decode() == "bot\0bot\0" + os.environ["SASL_WANT"]:
                        log.write("conn %d auth ok\n" % n)
                        send(":s 900 %s %s!u@h bot :You are now logged in" % (nick, nick))
                        send(":s 903 %s :SASL authentication successful" % nick)
                    else:
                        send(":s 904 %s :SASL authentication failed" % nick)
            elif line == "CAP END":
                capend = True
            elif cmd == "PRIVMSG" and "ANSWER" in line and mode == "ok-close":
                log.write("conn %d dropped by the server\n" % n)
                c.close()
                return
            if capend and user and nick:
                send(":s 001 %s :Welcome %s!u@h" % (nick, nick))
                send(":someone!u@h PRIVMSG %s :are you there #%d?" % (nick, n))
                capend = False
    log.write("conn %d closed\n" % n)

n = 0
while True:
    c, _ = srv.accept()
    n += 1
    plan = open(plan_file).read().split()
    mode = plan[min(n - 1, len(plan) - 1)]
    log.write("conn %d open %s %.3f\n" % (n, mode, time.time()))
    threading.Thread(target=serve, args=(c, n, mode), daemon=True).start()
PY
# the services stay down (noauth repeats) until the script says otherwise
echo "ok-close nocap nomech refuse nak toolong abort noauth" >"$T/plan"
export SASL_WANT="right-pw"
start_port_server "$T/pport" 10 python3 "$T/planircd.py" "$T/pport" "$T/plan.log" "$T/plan"
STATE=$T/state

SASL_PW=$SASL_WANT start_bot --nick faqbot --sasl-account bot --sasl-password-env SASL_PW \
	--backoff-min-ms 200 --backoff-max-ms 400 --state-dir "$STATE"
check "logged in with SASL and answering" wait_for 20 grep -q "conn 1 recv PRIVMSG someone :ANSWER #1" "$T/plan.log"
check "registered: the health mark is written" wait_for 20 test -s "$STATE/last_sync"
check "the server drops the bot after the answer" wait_for 10 grep -q "conn 1 dropped" "$T/plan.log"
check "the reconnect finds no sasl capability: logged, retried" \
	wait_for 20 grep -q "SASL: the server does not offer it (no sasl capability); a login worked before, so the services may be down: retrying" "$T/bot.log"
rm -f "$STATE/last_sync"
for want in "SASL: the server offers EXTERNAL, not PLAIN; a login" \
	"SASL: the server refused the account or password; a login worked before" \
	"SASL: the server refused the sasl capability; a login" \
	"SASL: the login was aborted; a login" \
	"SASL: the server registered the bot without a login (it ignored CAP); a login worked before"; do
	check "then: \"${want%%;*}\", retried" wait_for 20 grep -qF "$want" "$T/bot.log"
done
check "a 905 is one of them too (the refusal is logged for each)" \
	test "$(grep -c 'SASL: the server refused the account or password; a login worked before' "$T/bot.log")" -ge 2
check "no health mark was written while the login failed" test ! -e "$STATE/last_sync"
kill -0 "$BOT_PID" 2>/dev/null && ok "the bot stayed up through every refused login" ||
	notok "the bot stayed up through every refused login"
echo "ok-close nocap nomech refuse nak toolong abort noauth ok" >"$T/plan"
back() { grep -q "recv PRIVMSG someone :ANSWER #\([0-9]*\)" "$T/plan.log" &&
	[ "$(grep -c "recv PRIVMSG someone :ANSWER" "$T/plan.log")" -ge 2 ]; }
check "the services are back: logged in again and answering" wait_for 20 back
check "and the health mark is written again" wait_for 20 test -s "$STATE/last_sync"
conns=$(grep -c ' open ' "$T/plan.log")
gap=$(awk '/ open /{ if (t) { d = $5 - t; if (!m || d < m) m = d } t = $5 } END { printf "%d", m * 1000 }' "$T/plan.log")
check "$conns connections, at least ${gap} ms apart: the backoff (at least 100 ms), not a storm" \
	test "$gap" -ge 90
stop_bot
check "SIGTERM: exit 0 within 2 s (${STOP_MS} ms)" test "$STOP_RC" = 0 -a "$STOP_MS" -lt 2000
check "the exit line counts $((conns - 2)) retried logins" grep -qE "sasl_retries=$((conns - 2))$" "$T/bot.log"

# the same at a first start: a setting to fix, not a reconnect storm
echo "nomech" >"$T/plan"
: >"$T/first.log"
before=$(grep -c ' open ' "$T/plan.log")
SASL_PW=$SASL_WANT timeout 20 "$DRIVER" --host 127.0.0.1 --port "$PORT" --nick faqbot \
	--sasl-account bot --sasl-password-env SASL_PW --backoff-min-ms 200 >"$T/first.log" 2>&1
rc=$?
grep -m1 "SASL" "$T/first.log" | sed 's/^/#   /'
check "at a first start the server's lacking PLAIN: exit 1, a clear error, not retrying" \
	bash -c "[ $rc = 1 ] && grep -q 'SASL: the server offers EXTERNAL, not PLAIN (not retrying)' '$T/first.log'"
check "and one connection only" test "$(grep -c ' open ' "$T/plan.log")" = $((before + 1))
cat "$T/first.log" >>"$T/bot.log"
check "no password in the bot's log" bash -c "! grep -q 'right-pw' '$T/bot.log'"
finish
