#!/bin/bash
# The Debian package, end to end (./run package; needs root for the install
# part, which is skipped with a message otherwise):
#
#   1. copy the source tree into a temp dir (dpkg-buildpackage writes its
#      results into the parent directory) and build it with
#      dpkg-buildpackage -us -uc -b;
#   2. lintian: no error and no warning (debian/hasentinel.lintian-overrides
#      explains what is overridden);
#   3. install it with apt-get (which pulls the dependencies), check what
#      postinst did (the system user in the group haproxy, the unit installed
#      but not enabled), run `hasentinel -t` as that user against the
#      installed /etc/hasentinel/hasentinel.conf;
#   4. a failover against the installed binaries
#      (tests/integration/t02_master_kill.sh with HASENTINEL=/usr/sbin/...);
#   5. dpkg --purge, then nothing the package installed or created is left,
#      except the system user and group, kept on purpose (debian/README.Debian).
#
# Refuses to run when a hasentinel package is already installed (it would be
# replaced and then purged). On failure the package is purged as well.
# HS_KEEP=1 keeps the temp dir.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
say() { printf '==> package: %s\n' "$*" >&2; }
fail() { printf 'FAIL: package: %s\n' "$*" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hs-pkg.XXXXXX")
INSTALLED=0
cleanup() {
	local rc=$?
	set +e
	if [ "$INSTALLED" = 1 ]; then
		say "purging after a failure"
		dpkg --purge hasentinel >/dev/null
	fi
	if [ "${HS_KEEP:-0}" = 1 ]; then
		echo "kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT

if dpkg-query -W -f='${Status}' hasentinel 2>/dev/null | grep -q 'installed'; then
	fail "a hasentinel package is already installed; purge it first (dpkg --purge hasentinel)"
fi

# ------------------------------------------------------------ 1. build
say "copying the source tree to $TMP/src"
mkdir "$TMP/src"
if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
	# Tracked files and new ones, not what .gitignore names (build dirs,
	# generated autotools files, .lab).
	(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 cp --parents -t "$TMP/src")
else
	cp -a "$TOP/." "$TMP/src"
	rm -rf "$TMP/src/build" "$TMP/src"/build-* "$TMP/src/.lab"
fi
say "dpkg-buildpackage -us -uc -b (log: build.log)"
start=$(date +%s)
if ! (cd "$TMP/src" && dpkg-buildpackage -us -uc -b) >"$TMP/build.log" 2>&1; then
	tail -n 40 "$TMP/build.log" >&2
	fail "dpkg-buildpackage failed"
fi
grep -E '^(PASS|FAIL|SKIP|ERROR):' "$TMP/build.log" >&2 || true
deb=$(ls "$TMP"/hasentinel_*.deb)
changes=$(ls "$TMP"/hasentinel_*.changes)
say "built ${deb##*/} in $(($(date +%s) - start)) s"
dpkg-deb -c "$deb" | awk '{ print "    " $6 }' >&2

# ------------------------------------------------------------ 2. lintian
say "lintian"
lint=0
lintian --display-info --show-overrides --fail-on error,warning "$changes" >"$TMP/lintian.log" 2>&1 || lint=$?
sed -e '/^running with root privileges/d' -e 's/^/    /' "$TMP/lintian.log" >&2
[ "$lint" = 0 ] || fail "lintian reports errors or warnings (exit $lint)"
say "lintian: no error, no warning"

# ------------------------------------------------------------ 3. install
if [ "$(id -u)" -ne 0 ]; then
	say "SKIP install, failover and purge: they need root (built and checked only)"
	exit 0
fi
say "apt-get install ./${deb##*/}"
INSTALLED=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" \
	>"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; fail "apt-get install failed"; }
dpkg-query -L hasentinel | sort >"$TMP/files"

for f in /usr/sbin/hasentinel /usr/bin/hasentinelctl /etc/hasentinel/hasentinel.conf \
	/lib/systemd/system/hasentinel.service /usr/share/man/man8/hasentinel.8.gz \
	/usr/share/man/man1/hasentinelctl.1.gz /usr/share/man/man5/hasentinel.conf.5.gz \
	/usr/share/doc/hasentinel/examples/haproxy.cfg /usr/share/doc/hasentinel/README.Debian \
	/usr/share/doc/hasentinel/copyright; do
	[ -e "$f" ] || fail "$f is not installed"
done
if [ -f "$TOP/haproxy/hasentinel.lua" ]; then
	[ -f /usr/share/hasentinel/hasentinel.lua ] || fail "the Lua file is not installed"
fi
# The example haproxy.cfg is valid as installed (and finds the Lua file).
HS_ADMIN_SOCKET=$TMP/admin.sock HS_STATE_FILE=$TMP/state \
	haproxy -c -f /usr/share/doc/hasentinel/examples/haproxy.cfg >"$TMP/haproxy-c.log" 2>&1 ||
	{ cat "$TMP/haproxy-c.log" >&2; fail "haproxy -c rejects the installed example haproxy.cfg"; }
grep -qx /etc/hasentinel/hasentinel.conf /var/lib/dpkg/info/hasentinel.conffiles ||
	fail "/etc/hasentinel/hasentinel.conf is not a conffile"
getent passwd hasentinel >/dev/null || fail "postinst did not create the user hasentinel"
if getent group haproxy >/dev/null; then
	id -nG hasentinel | tr ' ' '\n' | grep -qx haproxy ||
		fail "the user hasentinel is not in the group haproxy (HAProxy's admin socket)"
fi
[ ! -e /etc/systemd/system/multi-user.target.wants/hasentinel.service ] ||
	fail "the unit was enabled on a fresh install"
if command -v systemd-analyze >/dev/null 2>&1; then
	SYSTEMD_LOG_LEVEL=notice systemd-analyze verify /lib/systemd/system/hasentinel.service ||
		fail "systemd-analyze verify rejects the unit"
fi
say "installed: user $(id hasentinel), unit installed, not enabled"

say "hasentinel -t (as the user hasentinel) against the installed configuration"
setpriv --reuid=hasentinel --regid=hasentinel --init-groups \
	/usr/sbin/hasentinel -t -c /etc/hasentinel/hasentinel.conf ||
	fail "hasentinel -t rejects the installed configuration"
/usr/bin/hasentinelctl --help >/dev/null 2>&1 || fail "hasentinelctl --help failed"

# ------------------------------------------------------------ 4. failover
say "a failover against the installed binaries (t02_master_kill.sh)"
HASENTINEL=/usr/sbin/hasentinel HASENTINELCTL=/usr/bin/hasentinelctl top_srcdir=$TOP \
	bash "$TOP/tests/integration/t02_master_kill.sh" 2>"$TMP/t02.log" ||
	{ cat "$TMP/t02.log" >&2; fail "the failover test failed against the installed binaries"; }
grep -q 'agent: /usr/sbin/hasentinel' "$TMP/t02.log" ||
	{ cat "$TMP/t02.log" >&2; fail "the failover test did not run /usr/sbin/hasentinel"; }
tail -n 3 "$TMP/t02.log" >&2

# ------------------------------------------------------------ 5. purge
say "dpkg --purge hasentinel"
dpkg --purge hasentinel >"$TMP/purge.log" 2>&1 || { cat "$TMP/purge.log" >&2; fail "purge failed"; }
INSTALLED=0
left=
while read -r f; do
	# Directories shared with other packages (/usr/bin, /etc, ...) stay.
	[ "$f" = /. ] && continue
	[ -d "$f" ] && dpkg-query -S "$f" >/dev/null 2>&1 && continue
	[ -e "$f" ] || [ -L "$f" ] || continue
	left+="$f "
done <"$TMP/files"
for f in /etc/hasentinel /usr/share/hasentinel /usr/share/doc/hasentinel /run/hasentinel \
	/var/lib/systemd/deb-systemd-helper-enabled/hasentinel.service.dsh-also \
	/var/lib/dpkg/info/hasentinel.list /var/lib/dpkg/info/hasentinel.conffiles; do
	[ -e "$f" ] && left+="$f "
done
[ -z "$left" ] || fail "left behind after purge: $left"
dpkg-query -W -f='${Status}' hasentinel 2>/dev/null | grep -q 'not-installed' ||
	[ -z "$(dpkg-query -W -f='${Status}' hasentinel 2>/dev/null)" ] ||
	fail "dpkg still knows the package: $(dpkg-query -W -f='${Status}' hasentinel)"
# Kept on purpose (debian/README.Debian, debian/hasentinel.postrm).
getent passwd hasentinel >/dev/null || fail "the user hasentinel was removed (the policy is to keep it)"
say "purged: nothing left but the system user hasentinel (kept, see README.Debian)"
say "ok"
