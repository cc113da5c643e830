#!/usr/bin/env bash
# Every flag and command podmux parses is documented (issue 14.2): in `podmux help`, the man
# page, both completions and (commands) the README; the man pages it refers to exist.
. "$PMX_SRC/tests/integration/lib.sh"
[ -x "$PODMUX" ] || { echo "no podmux binary"; exit 77; }
S=$PMX_SRC
flags=$(sed -n 's/^    {"\([a-z-]*\)", .*OFF(.*/\1/p' "$S/src/cli/args.c")
[ "$(echo "$flags" | wc -l)" -ge 30 ] || fail "could not read the flags from args.c: $flags"
help=$("$PODMUX" help; "$PODMUX" help exec; "$PODMUX" help attach; "$PODMUX" help shell; "$PODMUX" help cp)
man=$(sed 's/\\-/-/g' "$S/docs/podmux.1")
for f in $flags; do
  grep -q -- "--$f\b" <<<"$help" || fail "--$f not in podmux help"
  grep -q -- "--$f\b" <<<"$man" || fail "--$f not in the man page"
  grep -q -- "--$f\b" "$S/src/cli/completion/podmux.bash" || fail "--$f not in the bash completion"
  grep -q -- "--$f\b" "$S/src/cli/completion/_podmux" || fail "--$f not in the zsh completion"
done
for c in exec attach shell cp version help; do
  grep -q "podmux $c\b" <<<"$help" || fail "podmux $c not in podmux help"
  grep -q "podmux $c\b" <<<"$man" || grep -q "\.B podmux $c" "$S/docs/podmux.1" || fail "$c not in the man page"
  grep -q "\b$c\b" "$S/src/cli/completion/podmux.bash" || fail "$c not in the bash completion"
  grep -q "'$c\[" "$S/src/cli/completion/_podmux" || fail "$c not in the zsh completion"
done
grep -q 'podmux shell' "$S/README.md" || fail "podmux shell not in the README"
grep -q -- '--layout' "$S/README.md" || fail "--layout not in the README"
"$PODMUX" help shell | grep -q 'exec -it' || fail "help shell does not say exec -it opens it"
# The SEE ALSO pages exist.
for p in $(sed -n 's/^\.BR \([a-z-\\]*\) (1).*/\1/p' "$S/docs/podmux.1" | sed 's/\\-/-/g' | grep podmux); do
  [ -f "$S/docs/$p.1" ] || fail "the man page refers to $p(1), which does not exist"
done
echo ok
