#!/usr/bin/env bash
# Prints the video encoder, decoder and ONNX Runtime execution provider a worker would use on
# this machine (same environment variables as the worker), and tries each: a 2-second decode
# and encode, and one session.run of the demo model.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
exec pnpm --silent --filter @mediaq/worker exec tsx scripts/gpu-check.ts
