#!/usr/bin/env bash
# moderators_irc.sh -- `faqbot run` on IRC with the moderators' commands,
# against InspIRCd linked to Atheme (accounts come from the IRCv3
# account-tag): a guest who takes a moderator's nick is refused, once; the
# moderator logged in to the listed account is obeyed whatever their nick;
# !faq ID > nick addresses that member; !mute silences FAQ answers, never a
# crisis; !stats counts without words.
. "$(dirname "$0")/irc_lib.inc"

need_inspircd
need_atheme
FAQBOT=${FAQBOT:-build/asan/faqbot}
[ -x "$FAQBOT" ] || skip "no faqbot binary at $FAQBOT"
LINK_PORT=$(free_port)
start_inspircd
start_atheme
mkdir -p "$T/state" && chmod 700 "$T/state"
cat >"$T/faqbot.ini" <<CONF
faq_dir = faq
state_dir = $T/state
cooldown_s = 0
[irc]
host = 127.0.0.1
port = $PORT
tls = false
nick = faqbot
channels = #support
moderators = #mods
moderator_accounts = alice
# answers of several lines come in under a second: the scenario reads each
# reply whole before the next command (the test server's limits allow it)
flood_burst = 10
flood_interval_ms = 250
CONF
export BOT=faqbot

scenario "set-up: alice registers the moderators' account with NickServ" <<'PY'
c = Client(PORT, "alice")
c.send("PRIVMSG NickServ :REGISTER alice-pw-77 alice@example.org")
m = c.wait(lambda m: m["cmd"] == "900", 15)
print("alice:", m and m["params"][-1])
c.close()
sys.exit(0 if m else 1)
PY

run_faqbot "$T/faqbot.ini"

scenario "a guest using the moderator's nick is refused once, then ignored" <<'PY'
w = Client(PORT, "watcher")
for _ in range(100):
    if BOT in w.names("#support"):
        break
    time.sleep(0.1)
g = Client(PORT, "alice"); g.join("#support")   # not logged in
g.send("PRIVMSG #support :!mute")
r1 = g.collect(4, from_bot(BOT))
g.send("PRIVMSG #support :!stats")
r2 = g.collect(4, from_bot(BOT))
g.send("PRIVMSG #support :faqbot: what is tms?")
r3 = g.collect(6, from_bot(BOT))
t1 = " ".join(m["params"][1] for m in r1)
print("refusal:", t1[:100], "| then:", len(r2), "| tms answered:", len(r3))
g.close()
sys.exit(0 if "for the group's moderators" in t1 and not r2 and r3
         and "magnetic" in " ".join(m["params"][1] for m in r3).lower() else 1)
PY

scenario "the moderator, logged in under another nick, is obeyed: !test, !mute, !stats" <<'PY'
a = Client(PORT, "al_mod"); a.join("#support")
a.send("PRIVMSG NickServ :IDENTIFY alice alice-pw-77")
ok = a.wait(lambda m: m["cmd"] == "900", 10) is not None
a.send("PRIVMSG #support :!test what is tms?")
t = " ".join(m["params"][1] for m in a.collect(5, from_bot(BOT)))
print("test:", t[:120])
ok = ok and "faq: tms, pattern at" in t
a.send("PRIVMSG #support :!mute")
t = " ".join(m["params"][1] for m in a.collect(5, from_bot(BOT)))
print("mute:", t[:80])
ok = ok and "muted in this room" in t
b = Client(PORT, "bea"); b.join("#support")
b.send("PRIVMSG #support :faqbot: what is ect?")
quiet = b.collect(4, from_bot(BOT))
b.send("PRIVMSG #support :i want to end my life")
crisis = " ".join(m["params"][1] for m in b.collect(8, from_bot(BOT)))
print("muted question:", len(quiet), "| crisis reply has 988:", "988" in crisis)
ok = ok and not quiet and "988" in crisis
a.send("PRIVMSG #support :!unmute")
a.wait(lambda m: from_bot(BOT)(m) and "back on" in m["params"][1], 10)
a.send("PRIVMSG #support :!faq ketamine-safety > bea")
d = b.wait(lambda m: from_bot(BOT)(m) and m["params"][1].startswith("bea: "), 10)
print("directed:", d and d["params"][1][:60])
ok = ok and d is not None and "medical setting" in d["params"][1]
a.send("PRIVMSG #support :!stats")
s1 = a.wait(lambda m: from_bot(BOT)(m) and "Since start" in m["params"][1], 10)
st = " ".join(m["params"][1] for m in [s1] + a.collect(4, from_bot(BOT)) if m)
print("stats:", st[:160])
ok = ok and "crisis 1" in st and "end my life" not in st and "what is" not in st
sys.exit(0 if ok else 1)
PY
stop_bot
check "SIGTERM: exit 0 within 2 s (${STOP_MS} ms)" test "$STOP_RC" = 0 -a "$STOP_MS" -lt 2000
check "no message text in the bot's log" bash -c "! grep -qiE 'end my life|what is tms|what is ect' '$T/bot.log'"
finish
