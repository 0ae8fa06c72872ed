#!/usr/bin/env bash
# Render a run's report page in headless Chromium and save a PNG, to look at what a reader's browser shows.
# Needs Chromium (Debian/Ubuntu: apt-get install -y chromium). Nothing is fetched: the page is self-contained.
#
#   scripts/screenshot_report.sh RUN_DIR [OUT.png] [HEIGHT]
#
# RUN_DIR/report/index.html must exist (`linguabridge report RUN_DIR`). OUT.png defaults to
# RUN_DIR/report/screenshot.png; HEIGHT (pixels, default 4000) is the window height: the screenshot shows the
# top HEIGHT pixels of the page at 1400 px wide (pass e.g. 12000 to see a whole demo report).
set -euo pipefail
run_dir=${1:?usage: scripts/screenshot_report.sh RUN_DIR [OUT.png] [HEIGHT]}
page="$run_dir/report/index.html"
if [ ! -f "$page" ]; then
  echo "error: no report at $page -- run: linguabridge report $run_dir" >&2
  exit 2
fi
page="$(cd "$(dirname "$page")" && pwd)/index.html"
out=${2:-$run_dir/report/screenshot.png}
height=${3:-4000}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "error: Chromium not found -- install it: apt-get install -y chromium" >&2
  exit 2
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# No network, no first-run or background services: the page must render from the file alone.
nice "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size=1400,"$height" --screenshot="$out" "file://$page" 2>/dev/null
echo "$out"
