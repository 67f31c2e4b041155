#!/usr/bin/env bash
# irc_faqbot.sh -- `faqbot run --config` on IRC, with the real core and the
# shipped FAQ, against a real ngircd on loopback: an addressed question gets
# its FAQ answer (in the channel its short form, one line, and the whole
# by private message on request), chat stays quiet, a crisis gets the crisis lines in the
# channel and an alert to the moderator that names the channel and the nick
# but copies none of the words, and SIGTERM ends it cleanly.
. "$(dirname "$0")/irc_lib.inc"

need_ngircd
start_ircd
FAQBOT=${FAQBOT:-build/asan/faqbot}
[ -x "$FAQBOT" ] || skip "no faqbot binary at $FAQBOT"
mkdir -p "$T/state" && chmod 700 "$T/state"
cat >"$T/faqbot.ini" <<CONF
faq_dir = faq
state_dir = $T/state
[irc]
host = 127.0.0.1
port = $PORT
tls = false
nick = faqbot
channels = #support
moderators = mod
CONF
run_faqbot "$T/faqbot.ini"
export BOT=faqbot

scenario "the moderator is there, the bot joins #support" <<'PY'
c = Client(PORT, "watcher")
ok = c.sees("#support", BOT)
sys.exit(0 if ok else 1)
PY

scenario "an addressed question gets the FAQ answer; chat in the channel gets none" <<'PY'
c = Client(PORT, "ann"); c.join("#support")
c.send("PRIVMSG #support :spravato session went fine today")
quiet = c.collect(3, from_bot(BOT))
c.send("PRIVMSG #support :faqbot: what is tms?")
lines = c.collect(8, from_bot(BOT))
text = " ".join(m["params"][1] for m in lines)
print("quiet:", len(quiet), "answer lines:", len(lines), text[:120])
# the short form: one paced line in the channel, with the way to the whole
sys.exit(0 if not quiet and len(lines) == 1 and "magnetic" in text.lower() and
         "/msg faqbot !faq tms" in text and
         all(m["params"][0] == "#support" for m in lines) else 1)
PY

scenario "the whole answer by private message on request, as the short form points" <<'PY'
c = Client(PORT, "cal")
c.send("PRIVMSG faqbot :!faq tms")
got = []
def whole(m):
    if from_bot(BOT)(m) and m["params"][0] == "cal":
        got.append(m["params"][1])
    return any("articles don't go into detail" in t for t in got)
ok = c.wait(whole, 20)
print("private lines:", len(got))
sys.exit(0 if ok and len(got) >= 2 and not any("!faq tms" in t for t in got) else 1)
PY

scenario "a crisis: crisis lines in the channel, an alert to the moderator without the words" <<'PY'
mod = Client(PORT, "mod"); mod.join("#modroom")  # registered before the crisis
c = Client(PORT, "bea"); c.join("#support")
c.send("PRIVMSG #support :honestly i want to end my life tonight")
lines = c.collect(10, from_bot(BOT))
text = " ".join(m["params"][1] for m in lines)
allm = mod.collect(3); alerts = [m for m in allm if from_bot(BOT)(m) and m["params"][0] == "mod"]
alert = " ".join(m["params"][1] for m in alerts)
print("reply lines:", len(lines), "alert:", alert[:200])
sys.exit(0 if "988" in text and "741741" in text and alerts and "#support" in alert
         and "bea" in alert and "end my life" not in alert and "tonight" not in alert else 1)
PY

# faqbot health reads the mark a registered IRC session leaves (waiting on
# the condition, not a guessed delay)
health=1
healthy() { "$FAQBOT" health --config "$T/faqbot.ini" >"$T/health.out" 2>&1; }
wait_for 10 healthy && health=0
check "faqbot health: healthy while the IRC session is registered ($(head -1 "$T/health.out"))" \
	test "$health" = 0

stop_bot
check "SIGTERM: exit 0 in ${STOP_MS} ms" test "$STOP_RC:$((STOP_MS < 2000))" = "0:1"
check "no member's words in the bot's log" bash -c "! grep -qiE 'spravato session|what is tms|end my life' '$T/bot.log'"
finish
