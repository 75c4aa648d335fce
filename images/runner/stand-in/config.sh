#!/bin/sh
echo "the stand-in runner is configured by its JIT config only (run.sh --jitconfig)" >&2
exit 2
