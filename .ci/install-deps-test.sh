#!/usr/bin/env bash
# install-deps-test.sh - checks .ci/install-deps.sh's apt-sources edit on copies (never the
# machine's files): contrib and non-free are added to the Components of every source that has
# main (deb822 and one-line formats), nothing else changes, a second run changes nothing; and no
# file of the repository names a Debian/Ubuntu package mirror. Prints `N passed, N failed`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
work=$(mktemp -d /tmp/jetnative-install-deps-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0; failed=0
check() {
  local name=$1; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name" >&2; failed=$((failed + 1)); fi
}
# Fixtures use reserved .invalid hosts: they only need a URI field to carry through unchanged.
cat > "$work/debian.sources" <<'SRC'
Types: deb
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://other.invalid/repo
Suites: stable
Components: extras
SRC
cat > "$work/sources.list" <<'SRC'
# deb http://mirror.invalid/debian bookworm main
deb http://mirror.invalid/debian bookworm main
deb [arch=amd64] http://mirror.invalid/debian bookworm-updates main non-free
deb http://other.invalid/repo stable extras
SRC
cp "$work/debian.sources" "$work/debian.sources.orig"
cp "$work/sources.list" "$work/sources.list.orig"
run() { JET_APT_SOURCES="$work/debian.sources $work/sources.list" bash .ci/install-deps.sh --enable-contrib-non-free; }
first=$(run)
check "the first run reports both files" test "$(grep -c 'enabled contrib non-free' <<<"$first")" -eq 2
expected_sources=$(sed -e 's/^Components: main$/Components: main contrib non-free/' \
  -e 's/^Components: main non-free-firmware$/Components: main non-free-firmware contrib non-free/' "$work/debian.sources.orig")
check "deb822: contrib non-free appended where main is, nothing else" test "$(cat "$work/debian.sources")" = "$expected_sources"
expected_list=$(sed -e 's|^deb http://mirror.invalid/debian bookworm main$|& contrib non-free|' \
  -e 's|^deb \[arch=amd64\] http://mirror.invalid/debian bookworm-updates main non-free$|& contrib|' "$work/sources.list.orig")
check "one-line: contrib non-free appended where main is, comments kept" test "$(cat "$work/sources.list")" = "$expected_list"
cp "$work/debian.sources" "$work/a"; cp "$work/sources.list" "$work/b"
second=$(run)
check "a second run changes nothing" bash -c "[ -z '$second' ] && cmp -s '$work/a' '$work/debian.sources' && cmp -s '$work/b' '$work/sources.list'"
mirrors=$(git grep -nIE '(deb|ftp|security|archive|ports)\.(debian|ubuntu)\.(org|com)' -- . || true)
[ -z "$mirrors" ] || echo "$mirrors" >&2
check "no repository file names a package mirror" test -z "$mirrors"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
