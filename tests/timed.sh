#!/usr/bin/env bash
# timed.sh LABEL COMMAND...: runs COMMAND and prints how long it took, so a
# make test log shows where its minutes go (issue 16's time budget).
label=$1
shift
start=$SECONDS
"$@"
rc=$?
echo "make test: $label took $((SECONDS - start)) s (status $rc)"
exit $rc
