#!/bin/bash
# f13: f12 with SENTINEL SIMULATE-FAILURE crash-after-promotion (see f12).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
HSF_SIMFAIL=crash-after-promotion exec bash "$(dirname "$0")/f12_crash_after_election.sh" "$@"
