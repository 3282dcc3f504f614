#!/usr/bin/env bash
# The user's path: build the wheel, install it with only the `studio` extra into a fresh virtual environment,
# and from a folder outside the checkout run the CLI with the bundled model and the editor (under Xvfb);
# then add the `web` extra and fetch the browser editor's page.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
torch_spec="${TORCH:-torch==2.13.0}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
pip="$work/venv/bin/pip"
"$pip" install -q --upgrade pip
"$pip" wheel -q --no-deps -w "$work/dist" "$root"
wheel="$(ls "$work"/dist/gpstoken_studio-*.whl)"
echo "wheel: $(basename "$wheel") $(du -h "$wheel" | cut -f1)"
"$pip" install -q "$torch_spec"
"$pip" install -q "$wheel[studio]"

cd "$work"
export GPSTOKEN_MODEL=  # the bundled model, not one from the caller's environment
image="$("$work/venv/bin/python" -c 'from gpstoken.bundled_files import sample_image; print(sample_image())')"
case "$image" in "$root"/*) echo "sample image resolved inside the checkout: $image" >&2; exit 1;; esac
cp "$image" photo.png
"$work/venv/bin/gpstoken" reconstruct photo.png --out recon.png --json metrics.json --quiet
"$work/venv/bin/python" - <<'PY'
import json
m = json.load(open("metrics.json"))
psnr = m["psnr"] if "psnr" in m else m["mean"]["psnr"]
assert psnr > 14, f"bundled model reconstructs at {psnr:.2f} dB"  # a mean-colour image gives 10.3
print(f"reconstruct with the bundled model: PSNR {psnr:.2f} dB")
PY
xvfb-run -a "$work/venv/bin/gpstoken-studio" photo.png --screenshot shot.png
test -s shot.png
echo "editor screenshot: $(du -h shot.png | cut -f1)"
"$work/venv/bin/python" -c 'import importlib.util as u; assert u.find_spec("matplotlib") is None, "matplotlib got installed"'

# the browser editor from the wheel with its `web` extra: the server answers with the page
"$pip" install -q "$wheel[web]"
"$work/venv/bin/gpstoken-studio" --web photo.png --port 0 > web.log 2>&1 &
server=$!
"$work/venv/bin/python" - <<'PY'
import re, time, urllib.request
for _ in range(600):
    found = re.search(r"http://\S+", open("web.log").read())
    if found:
        break
    time.sleep(0.1)
assert found, "gpstoken-studio --web printed no URL: " + open("web.log").read()
page = urllib.request.urlopen(found.group(0), timeout=120).read().decode()
assert "bokeh" in page.lower(), page[:300]
print(f"browser editor served at {found.group(0)} ({len(page)} bytes)")
PY
kill "$server"
wait "$server" 2>/dev/null || true
echo "wheel check passed"
