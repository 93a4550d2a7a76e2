#!/usr/bin/env bash
# Installs what a fresh machine lacks (Debian/Ubuntu): system tools, pinned pnpm, packages.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION=$(node -p "require('./package.json').packageManager.split('@')[1]")
# chromium and tmux are for the browser and terminal tests; python3 checks ZIPs in tests;
# espeak-ng speaks the narrations of the output-length and face tests; the face tests' portrait
# is fetched once by the test harness with apt-get download + dpkg-deb (test/.cache).
declare -A tools=([ffmpeg]=ffmpeg [ffprobe]=ffmpeg [redis-server]=redis-server [zip]=zip [unzip]=unzip
  [7z]=p7zip-full [bsdtar]=libarchive-tools [sha256sum]=coreutils [chromium]=chromium [tmux]=tmux
  [python3]=python3 [espeak-ng]=espeak-ng [dpkg-deb]=dpkg)
missing=()
for tool in "${!tools[@]}"; do command -v "$tool" >/dev/null 2>&1 || missing+=("${tools[$tool]}"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
fi

if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "setup: installing pnpm@$PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null
fi

# onnxruntime-node's install script (CUDA download) stays off: see pnpm-workspace.yaml.
pnpm install --frozen-lockfile --reporter=silent
