#!/bin/sh
# Generate the configure script from a git checkout.
set -e
cd "$(dirname "$0")"
autoreconf -fi
