#!/bin/sh
# Kiln's stand-in for the official GitHub actions runner, for test images only (the real runner
# cannot be downloaded on the build machines). Same contract: `run.sh --jitconfig BLOB`, where BLOB
# is base64 of a JSON object mapping the runner's files (.runner, .credentials, ...) to base64
# contents, as GitHub's generate-jitconfig returns it. Run once, as the unprivileged user.
exec python3 "$(dirname "$0")/bin/Runner.Listener" "$@"
