#!/bin/sh
# Entrypoint of the pinpipe images: `pinpipe <job> [args...]`. A per-job image sets
# PINPIPE_IMAGE_JOB to its job, so `podman run pinpipe/daily-transform:<v> --date D` runs
# `pinpipe daily-transform --date D`; the generic image pinpipe/pinpipe takes the job as the
# first argument. exec keeps node as PID 1 so SIGTERM reaches the job's shutdown handler.
if [ -n "${PINPIPE_IMAGE_JOB:-}" ]; then
  exec pinpipe "$PINPIPE_IMAGE_JOB" "$@"
fi
exec pinpipe "$@"
