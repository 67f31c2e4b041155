# tests/docs.sh -- sourced by tests/cli.sh (uses its ok/no, $BIN, $T): the
# man page, the README and faqbot.ini.example name the commands and the
# settings faqbot has, all of them, and none it does not have, so they
# cannot drift from the code again (issue 14, item 6).

# the commands `faqbot --help` lists, the man page's COMMANDS and the
# README's command table
help_cmds=$("$BIN" --help | sed -n '/^commands:/,/^options:/p' | grep -oE '^  [a-z-]+' |
	tr -d ' ' | sort -u)
man_cmds=$(sed -n '/^\.SH COMMANDS/,/^\.SH OPTIONS/p' faqbot.1 | grep -A1 '^\.TP' |
	grep -v '^\.TP\|^--' | sed 's/\\f[BRIP]//g; s/^\.B[IR]* //; s/"//g' | awk '{print $1}' |
	grep -v '^\\-' | sed 's/\\-/-/g' | grep -vx 'help\|version' | sort -u)
readme_cmds=$(grep -oE '^\| `faqbot [a-z][a-z-]*' README.md | awk '{print $3}' | sort -u)
[ -n "$help_cmds" ] && [ "$help_cmds" = "$man_cmds" ] && [ "$help_cmds" = "$readme_cmds" ] &&
	ok "the man page and the README name the commands --help lists, no more, no fewer" ||
	no "commands differ" "help: $(echo $help_cmds); man: $(echo $man_cmds); README: $(echo $readme_cmds)"
for c in help version; do
	"$BIN" "$c" >/dev/null 2>&1 || no "the man page's '$c' command does not run"
done

# the settings: what the parser accepts in each section (each word of
# src/app/config*.c tried there), what faqbot.ini.example shows and what the
# man page's CONFIGURATION lists
accepted() { # accepted SECTION: the keys the parser takes there
	local k out
	for k in $(grep -ho '"[a-z][a-z_]*"' src/app/config*.c | tr -d '"' | sort -u); do
		# [appservice] is read beside a [matrix] section, as it must be
		if [ "$1" = "[appservice]" ]; then
			printf '[matrix]\nuser_id = @b:x.org\nstate_dir = /nonexistent\n'
		fi >"$T/probe.ini"
		printf '%s\n%s = 1\n' "$1" "$k" >> "$T/probe.ini"
		out=$("$BIN" health --config "$T/probe.ini" 2>&1)
		grep_out -q "unknown setting\|may not be written\|unknown section" ||
			echo "$k"
	done
}
in_example() { # in_example SECTION: keys shown (or commented out) under it
	awk -v want="$1" '
		/^#? ?\[/ { sec = $0; sub(/^# ?/, "", sec); sub(/ .*\]$/, "]", sec)
			    if (sec ~ /^\[room/) sec = "[room]"; next }
		/^#? ?[a-z][a-z_]* = / { k = $0; sub(/^# ?/, "", k); sub(/ = .*/, "", k)
			    if (sec == want) print k }' faqbot.ini.example | sort -u
}
in_man() { # in_man SUBSECTION: keys under that .SS of CONFIGURATION
	sed -n '/^\.SH CONFIGURATION/,/^\.SH /p' faqbot.1 |
		awk -v want="$1" '/^\.SS / { sec = substr($0, 5); next }
			/^\.TP/ { getline; if (sec == want) { sub(/^\.B /, ""); print } }' | sort -u
}
code_top=$(accepted "" | sort -u)
code_matrix=$(accepted "[matrix]" | sort -u)
code_irc=$(accepted "[irc]" | sort -u)
code_room=$(accepted "[room !probe:example.org]" | sort -u)
code_metrics=$(accepted "[metrics]" | sort -u)
code_appservice=$(accepted "[appservice]" | sort -u)
drift=""
for pair in ":At the top of the file" "[matrix]:[matrix]" "[irc]:[irc]" "[metrics]:[metrics]" "[appservice]:[appservice]" \
	"[room]:[room ROOM_ID]"; do
	sec=${pair%%:*} ss=${pair#*:}
	case $sec in
	"") code=$code_top ;; "[matrix]") code=$code_matrix ;;
	"[irc]") code=$code_irc ;; "[metrics]") code=$code_metrics ;;
	"[appservice]") code=$code_appservice ;; *) code=$code_room ;;
	esac
	ex=$(in_example "$sec")
	man=$(in_man "$ss")
	[ -n "$code" ] && [ "$code" = "$ex" ] && [ "$code" = "$man" ] ||
		drift="$drift
${sec:-top}: code: $(echo $code)
  example: $(echo $ex)
  man: $(echo $man)"
done
[ -z "$drift" ] && ok "faqbot.ini.example and the man page name every setting the parser takes, and no other" ||
	no "settings differ" "$drift"

# every setting the README names (a backquoted word with '_', or a
# 'key = value' line) is one the parser takes somewhere
all=$(printf '%s\n' $code_top $code_matrix $code_irc $code_metrics $code_appservice $code_room | sort -u)
named=$( { sed '/^## Metrics/,/^## Dep/d' README.md | grep -oE '`[a-z]+_[a-z_]+`' | tr -d '`'
	grep -E '^ *[a-z][a-z_]* = ' README.md | sed 's/^ *//; s/ = .*//'; } |
	grep -vx 'dh_installsystemd\|dh_installsysusers\|last_sync\|last_irc\|irc_journal\|olm_account\|olm_sessions\|cross_signing\|megolm_out' |
	grep -vx 'sender_localpart\|rate_limited\|app_service_config_files\|appservice_txns\|as_token\|hs_token' |
	grep -v '^faqbot_' | sort -u)
unknown=$(comm -23 <(echo "$named") <(echo "$all"))
[ -n "$named" ] && [ -z "$unknown" ] && ok "every setting the README names exists" ||
	no "the README names settings faqbot does not have" "$unknown"

# the metrics: every family src/app/metrics.c serves is described in the
# README's table, and the Grafana dashboard asks only for those
fam_code=$(grep -o '"faqbot_[a-z_]*"' src/app/metrics.c | tr -d '"' | sort -u)
fam_readme=$(sed -n '/^## Metrics/,/^## /p' README.md | grep -o '^| `faqbot_[a-z_]*' | tr -d '|` ' | sort -u)
fam_dash=$(grep -o 'faqbot_[a-z_]*' docs/grafana-faqbot.json | sort -u)
[ -n "$fam_code" ] && [ "$fam_code" = "$fam_readme" ] && [ -z "$(comm -13 <(echo "$fam_code") <(echo "$fam_dash"))" ] &&
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' docs/grafana-faqbot.json &&
	ok "the README describes every metric, and the dashboard is JSON that asks for no other" ||
	no "metrics documentation" "code: $(echo $fam_code)
README: $(echo $fam_readme)
dashboard: $(echo $fam_dash)"
