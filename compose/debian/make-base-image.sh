#!/bin/sh
# Make the debian:12 and debian:12-slim images the Dockerfiles start from,
# without an image registry: a minimal Debian 12 (bookworm) made with
# debootstrap from a Debian archive, imported into the container engine.
#
#   sh make-base-image.sh [MIRROR]       (as root)
#
# MIRROR: the Debian archive to install from. Default: the first bookworm
# archive of this machine's APT sources (/etc/apt/sources.list and
# /etc/apt/sources.list.d/*.list, *.sources), the same that APT on the host
# uses. The image's own APT sources are bookworm and bookworm-updates from
# MIRROR, plus bookworm-security from the archive the host uses for it, if
# any: `apt-get install` in an image build then reaches the same archive.
#
# Environment: ENGINE (podman or docker; default: podman if installed),
# HS_BASE_IMAGE (default debian:12; HS_BASE_IMAGE-slim is tagged too).
# Needs debootstrap, tar, and about 300 MB in TMPDIR.
set -eu

ENGINE=${ENGINE:-}
if [ -z "$ENGINE" ]; then
	if command -v podman >/dev/null 2>&1; then ENGINE=podman; else ENGINE=docker; fi
fi
IMAGE=${HS_BASE_IMAGE:-debian:12}
SUITE=bookworm

die() {
	echo "make-base-image.sh: $*" >&2
	exit 1
}

# The URIs of the host's APT sources for suite $1, one per line, in order.
host_archives() {
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		# deb [options] URI SUITE COMPONENT...
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
			awk -v s="$1" '$1 == "deb" && $3 == s { print $2 }'
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# deb822 stanzas: Types, URIs, Suites (blank line between stanzas).
		awk -v s="$1" '
			function flush() {
				if (deb && suite) for (i = 1; i <= nu; i++) print uris[i]
				deb = 0; suite = 0; nu = 0
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
			tolower($1) == "uris:" { for (i = 2; i <= NF; i++) uris[++nu] = $i }
			tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) suite = 1 }
			END { flush() }
		' "$f"
	done
}

[ "$(id -u)" = 0 ] || die "run as root (debootstrap)"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (apt-get install debootstrap)"
command -v "$ENGINE" >/dev/null 2>&1 || die "$ENGINE is not installed"

MIRROR=${1:-$(host_archives "$SUITE" | head -n 1)}
[ -n "$MIRROR" ] || die "no $SUITE archive in this machine's APT sources: give one, e.g. sh $0 http://deb.debian.org/debian"
SECURITY=$(host_archives "$SUITE-security" | head -n 1)

root=$(mktemp -d "${TMPDIR:-/tmp}/hs-rootfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "make-base-image.sh: debootstrap --variant=minbase $SUITE from $MIRROR" >&2
debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 || {
	tail -n 30 "$root.log" >&2
	rm -f "$root.log"
	die "debootstrap failed"
}
rm -f "$root.log"

{
	echo "deb $MIRROR $SUITE main"
	echo "deb $MIRROR $SUITE-updates main"
	[ -z "$SECURITY" ] || echo "deb $SECURITY $SUITE-security main"
} >"$root/etc/apt/sources.list"
# What the image does not need: downloaded packages and package lists (an
# image build runs apt-get update first).
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/*

# The engine's progress output only on failure.
if ! tar -C "$root" -c . | "$ENGINE" import --change 'CMD ["bash"]' - "$IMAGE" >"$root.log" 2>&1; then
	tail -n 20 "$root.log" >&2
	rm -f "$root.log"
	die "$ENGINE import failed"
fi
rm -f "$root.log"
"$ENGINE" tag "$IMAGE" "$IMAGE-slim"
echo "make-base-image.sh: $IMAGE and $IMAGE-slim made" >&2
