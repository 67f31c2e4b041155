#!/usr/bin/env bash
# irc_faults.sh -- the IRC transport against a misbehaving server (a Python
# stand-in, since ngircd behaves): garbage, NUL bytes and an over-long line
# do not stop the bot from answering, nor do SASL and CAP replies out of
# order (an unasked 904, 906 or 907 used to end the bot), unknown numerics,
# an empty CHANTYPES (it used to make every channel no channel), a visible
# host too long to size lines by, odd tags, or text that is not UTF-8: each
# costs its own line at most; a server that stops answering is
# noticed by the bot's own PING and left; a server that drops every
# connection gets reconnects spaced by the backoff, not a storm; settings
# the transport cannot honour yet are refused with a clear error.
. "$(dirname "$0")/irc_lib.inc"

build_driver || { echo "# could not build the driver"; exit 1; }

cat >"$T/fakeircd.py" <<'PY'
# Connection 1: welcome, garbage, a question, then silence (no PONG).
# Connections 2 and later: closed at once. Every event goes to the log.
import socket, sys, threading, time
from ircc import listen
port_file, log_file = sys.argv[1], sys.argv[2]
log = open(log_file, "a", buffering=1)
srv = listen(port_file)
n = 0
def first(c):
    buf = b""
    c.settimeout(30)
    while b"USER " not in buf:
        d = c.recv(4096)
        if not d: return
        buf += d
    c.sendall(b":fake 001 faqbot :Welcome faqbot!u@h\r\n")
    c.sendall(b"\x00\xff\xfe garbage \x01\x02\r\n")
    c.sendall(b":fake PRIVMSG\r\n" + b"\r\n" + b":\r\n" + b"@@@ ::: \r\n")
    c.sendall(b":x!y@z PRIVMSG #c :" + b"A" * 20000 + b"\r\n")
    c.sendall(b":x!y@z PRIVMSG faqbot :" + b"B" * 700 + b"?\r\n")
    # out of order, unknown, or odd: none of it is the bot's to act on
    c.sendall(b":fake 005 faqbot CHANTYPES= :are supported\r\n"
              b":fake 396 faqbot " + b"h" * 480 + b" :is now your host\r\n"
              b":fake 904 faqbot :SASL authentication failed\r\n"
              b":fake 906 faqbot :SASL authentication aborted\r\n"
              b":fake 907 faqbot :You have already authenticated\r\n"
              b":fake 903 faqbot :SASL authentication successful\r\n"
              b"AUTHENTICATE +\r\n"
              b":fake CAP faqbot ACK :sasl account-tag\r\n"
              b":fake CAP faqbot NAK :account-tag\r\n"
              b":fake CAP faqbot LS :sasl account-tag\r\n"
              b":fake 001 faqbot :Welcome again\r\n"
              b":fake 999 faqbot :an unknown numeric\r\n"
              b":fake 042 faqbot ABC :your unique ID\r\n"
              b"@msgid=a\\nb;account=x\\sy :x!y@z PRIVMSG faqbot :escaped tags #2?\r\n"
              b"@@@;=;; :x!y@z PRIVMSG faqbot :odd tags #3?\r\n"
              b":x!y@z PRIVMSG #c :faqbot: in the channel #4?\r\n"
              b":x!y@z PRIVMSG faqbot :caf\xe9 in latin-1 \xff #5?\r\n"
              b":x!y@z PRIVMSG faqbot :a NUL\x00inside #6?\r\n")
    c.sendall(b":x!y@z PRIVMSG faqbot :after the garbage #1?\r\n")
    t_end = time.time() + 30
    while time.time() < t_end:
        try:
            d = c.recv(4096)
        except socket.timeout:
            break
        if not d: break
        buf += d
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            log.write("recv1 %s\n" % line.decode("utf-8", "replace").rstrip("\r"))
    log.write("closed1 %.1f\n" % time.time())
while True:
    c, _ = srv.accept()
    n += 1
    log.write("conn %d %.2f\n" % (n, time.time()))
    if n == 1:
        threading.Thread(target=first, args=(c,), daemon=True).start()
    else:
        c.close()
PY
start_port_server "$T/fport" 5 python3 "$T/fakeircd.py" "$T/fport" "$T/fake.log"

start_bot --nick faqbot --chan '#c' --ping-idle-ms 1500 --ping-timeout-ms 1500 \
	--backoff-min-ms 1000 --backoff-max-ms 2000 --burst 8 --interval-ms 200

check "garbage, NUL bytes and over-long lines: the bot still answers the next question" \
	wait_for 10 grep -q "recv1 PRIVMSG x :ANSWER #1" "$T/fake.log"
for n in 2 3 5; do
	check "an odd line before it costs nothing: question #$n answered" \
		grep -q "recv1 PRIVMSG x :ANSWER #$n:" "$T/fake.log"
done
check "an empty CHANTYPES is ignored: the channel question #4 is answered in #c" \
	grep -q "recv1 PRIVMSG #c :ANSWER #4:" "$T/fake.log"
check "and said in the log" grep -q "ignoring CHANTYPES= from the server" "$T/bot.log"
check "the line with a NUL inside is dropped whole: #6 never answered" \
	bash -c "! grep -q 'ANSWER #6' '$T/fake.log'"
check "a visible host too long to size lines by is not believed: every answer fits" \
	bash -c "! grep -q 'could not be split' '$T/bot.log'"
check "a silent server gets the bot's own PING" \
	wait_for 10 grep -q "recv1 PING" "$T/fake.log"
check "then the bot gives up on it and connects again" \
	wait_for 10 grep -q "^conn 2 " "$T/fake.log"
kill -0 "$BOT_PID" 2>/dev/null && ok "the bot is still running" || notok "the bot is still running"
sleep 6
n=$(grep -c "^conn " "$T/fake.log")
# 6 s of refused sessions, delays of 0.5-1, 1-2, 1-2, 1-2 s: about 4-6
check "a server that drops every connection: $((n - 1)) reconnects in 6 s, not a storm" \
	test "$n" -ge 3 -a "$n" -le 10
stop_bot
check "SIGTERM during the backoff: exit 0 within 2 s (${STOP_MS} ms)" \
	test "$STOP_RC" = 0 -a "$STOP_MS" -lt 2000

# client certificates for the checks below: a pair, a key of another pair,
# a key every user can read, a key with a passphrase
bads=()
if command -v openssl >/dev/null; then
	for n in a b; do
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$n" \
			-keyout "$T/$n.key" -out "$T/$n.crt" >>"$T/openssl.log" 2>&1
	done
	openssl pkey -in "$T/a.key" -aes256 -passout pass:secret -out "$T/pw.key" 2>>"$T/openssl.log"
	chmod 600 "$T/a.key" "$T/b.key" "$T/pw.key"
	cp "$T/a.key" "$T/open.key" && chmod 644 "$T/open.key"
	bads+=("--tls 1 --cert /nonexistent:tls_cert_file /nonexistent"
		"--cert $T/a.crt --key $T/a.key:only with tls on"
		"--tls 1 --key $T/a.key:without tls_cert_file"
		"--tls 1 --cert $T/a.crt --key $T/b.key:does not match the certificate"
		"--tls 1 --cert $T/a.crt --key $T/open.key:every user can read"
		"--tls 1 --cert $T/a.crt --key $T/pw.key:passphrase"
		"--tls 1 --cert $T/a.crt --key $T/a.key --sasl-mechanism EXTERNAL --sasl-password-env HOME:not a password")
fi
for bad in "--tls 1 --ca-file /nonexistent:tls_ca_file" "--host 192.0.2.1:loopback" \
	"--host 127.attacker.example:loopback" "--host 127.0.0.1.nip.io:loopback" "--host 0.0.0.0:loopback" \
	"--chan nochan:channel" "--mod a,b:moderator" \
	"--sasl-mechanism EXTERNAL --tls 1:set tls_cert_file" \
	"--sasl-mechanism SCRAM-SHA-256 --sasl-account a:is not PLAIN or EXTERNAL" \
	"--sasl-mechanism PLAIN:needs both an account and a password" "${bads[@]}"; do
	opt=${bad%:*} want=${bad##*:}
	# shellcheck disable=SC2086
	out=$("$DRIVER" --host 127.0.0.1 --port 1 --nick faqbot $opt 2>&1)
	rc=$?
	check "refused with a clear error: $opt ($(printf '%s' "$out" | head -1))" \
		test "$rc" = 1 -a -n "$(printf '%s' "$out" | grep -F "$want")"
done
finish
