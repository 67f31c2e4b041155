/* standin.h -- the stand-in core of the scenario drivers (irc_driver.c,
 * mx_driver.c): it runs one transport in the bot's one loop (loop.h), as
 * faqbot does, and answers by fixed rules instead of the FAQ, so that a
 * scenario steers each reply by the words of the message it sends.
 *
 * The rules:
 *   - "CRISIS" anywhere: a crisis (the dialect's crisis text, kind crisis,
 *     entry crisis-test) with the moderators' alert;
 *   - a question gets an FAQ answer (kind faq, entry faq-direct in a
 *     private message, else faq-test); which messages are questions, the
 *     dialect says (addressed_only);
 *   - steering words, in a message that gets an answer: the mention word
 *     and the word after it directs the answer (tr_reply.mention, as
 *     written); the see word, the event it points to (tr_reply.see_event);
 *     the moderators' word adds the dialect's notice for them
 *     (tr_reply.mod_text); the who-am-I word answers with what the core
 *     was told of the sender (account and power); the long word, a long
 *     answer to be split (ending in "END-OF-LONG");
 *   - anything else: silence.
 * The texts and the words are each transport's own (struct
 * standin_dialect): its scenarios were written against them, and the
 * answers carry what that transport must get right (HTML specials for
 * Matrix, a long text for IRC's splitter).
 *
 * The tick (when asked for) counts its calls and posts a notice for the
 * moderators when woken: SIGUSR1 sets the wake flag, SIGUSR2 writes to
 * the wake pipe; the notice says which. A tick that finds the notice
 * file posts its contents (up to 4 KB) and removes it. SIGINT and SIGTERM
 * stop the loop. No message text is ever logged: an answer's log line
 * carries the question's number alone. */
#ifndef FAQBOT_TEST_STANDIN_H
#define FAQBOT_TEST_STANDIN_H

#include "err.h"
#include "transport.h"

struct standin_dialect {
	const char *crisis; /* the crisis reply */
	const char *answer; /* an FAQ answer's text */
	/* 1: the answer is "ANSWER #N: " and then answer, N the digits after
	 * the question's first '#' (" #N" left out without them), and each
	 * answered message is logged as "driver: answering #N" */
	int numbered;
	/* 1: only a private or addressed message is answered, and only when
	 * it holds a '?' (the steering words apply to any such message);
	 * 0: a message ending in '?' is a question, and so is every private
	 * or addressed one */
	int addressed_only;
	int crisis_steered; /* 1: a crisis reply takes the steering words too */
	/* the steering words, NULL where the dialect has none */
	const char *mention_key; /* the word after it (blanks skipped) */
	const char *see_key;
	const char *mod_key;
	const char *mod_text; /* what mod_key adds */
	const char *whoami_key;
	/* 1: who-am-I is a reply of its own, "ACCOUNT=a POWER=n"; 0: it is
	 * the answer's text, "power=n account=a" */
	int whoami_upper;
	const char *long_key;
	/* 1: the tick's notice is "tick: woken by flag after N ms <&>" (N: the
	 * ms from the signal to the tick); 0: "TICK n flag" (n counts them) */
	int tick_timed;
};

struct standin_opts {
	int tick;                /* 1: the loop gets the tick */
	int wake_closed;         /* 1: a wake fd that is not open (the loop must drop it) */
	int wake_nodrain;        /* 1: the tick never drains the pipe (says so once) */
	const char *notice_file; /* or NULL */
	long handler_ms;         /* each message handled this long: a slow core */
};

struct standin_stats {
	unsigned long calls;      /* messages handed to the core */
	unsigned long ticks;      /* the core's tick calls */
	unsigned long loop_ticks; /* the loop's ticks */
};

/* standin_run serves the transport t (ops; borrowed, made by the caller
 * and freed by it after) with the stand-in core until SIGINT or SIGTERM;
 * state_dir, the loop's mark folder, or NULL. What the loop returns, or
 * ERR_IO when the wake pipe cannot be made (said on standard error);
 * *stats filled in either case. */
enum err standin_run(const struct standin_dialect *dialect, const struct standin_opts *opts,
		     const struct transport_ops *ops, void *t, const char *state_dir,
		     struct standin_stats *stats);

#endif
