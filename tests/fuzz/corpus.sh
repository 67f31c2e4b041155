#!/usr/bin/env bash
# tests/fuzz/corpus.sh NAME DIR -- fills DIR (which exists) with the seed
# corpus of the fuzz target NAME: the files of tests/fuzz/corpus/NAME/ (the
# seeds of its own: hostile inputs, inputs that once crashed it) and the
# files of the tree that tests/fuzz/seeds names for it, each under its
# path with '/' as '_' (tests_data_broken_bad-id_entry.yml), so that
# nothing is copied into the tree twice. tests/run.sh's smoke run starts
# from it; to run a target longer:
#   d=$(mktemp -d) && bash tests/fuzz/corpus.sh faq "$d" && build/fuzz/fuzz_faq "$d"
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1 dir=$2
[ -d "$dir" ] || { echo "corpus.sh: no folder $dir" >&2; exit 2; }
if [ -d "tests/fuzz/corpus/$name" ]; then
	cp -r "tests/fuzz/corpus/$name"/. "$dir"/
fi
while read -r target paths; do
	[ "$target" = "$name" ] || continue
	for f in $paths; do # the globs expand here
		[ -f "$f" ] || { echo "corpus.sh: tests/fuzz/seeds: no file $f" >&2; exit 1; }
		cp "$f" "$dir/${f//\//_}"
	done
done < <(grep -v '^#' tests/fuzz/seeds)
