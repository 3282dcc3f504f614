#!/usr/bin/env bash
# The GPU check: the device-capable tests on CUDA and the GPU benchmarks, as Markdown tables under OUTDIR.
#
#   benchmarks/gpu_check.sh OUTDIR            # on a CUDA machine: under 8 minutes in all
#   benchmarks/gpu_check.sh OUTDIR --dry-run  # anywhere: tiny sizes on the CPU, checks the script itself
#
# Each section (benchmarks/gpu_bench.py SECTION) runs in its own process under a time limit, so one
# failure or hang costs only its own table; OUTDIR/README.md lists the machine, every section's status
# and time, then all tables. Python: $PYTHON, else .venv/bin/python, else python3. Exit status 1 when a
# section failed (its error is in OUTDIR/<section>.log).
set -u
cd "$(dirname "$0")/.."

usage() { echo "usage: benchmarks/gpu_check.sh OUTDIR [--dry-run]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
OUT=$1
DRY=""
if [ $# -eq 2 ]; then [ "$2" = "--dry-run" ] && DRY="--dry-run" || usage; fi
case "$OUT" in -*) usage ;; esac
PY=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
mkdir -p "$OUT" || exit 2

if [ -n "$DRY" ]; then
  DEVICE=cpu
  # section:seconds (the dry run measures nothing; its limits only catch a hang)
  SECTIONS="tests:300 render:120 tokenizer:120 editor:180 fit:120 generate:120 train:180"
else
  DEVICE=cuda
  if ! "$PY" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu_check: torch sees no CUDA device (use --dry-run to check the script on the CPU)" >&2
    exit 2
  fi
  # 470 s of limits in all; the expected total is well below
  SECTIONS="tests:120 render:90 tokenizer:40 editor:60 fit:40 generate:60 train:60"
fi

START=$(date +%s)
STATUS=""
FAILED=0
for entry in $SECTIONS; do
  name=${entry%%:*}
  limit=${entry##*:}
  t0=$(date +%s)
  timeout -k 10 "$limit" "$PY" benchmarks/gpu_bench.py "$name" --out "$OUT" --device "$DEVICE" $DRY \
    >"$OUT/$name.log" 2>&1
  rc=$?
  dt=$(( $(date +%s) - t0 ))
  case $rc in
    0) state="ok" ;;
    124|137) state="timed out after ${limit} s"; FAILED=1 ;;
    *) state="failed (exit $rc): $(tail -n 1 "$OUT/$name.log" | cut -c1-160)"; FAILED=1 ;;
  esac
  echo "gpu_check: $name: $state (${dt} s)"
  STATUS="$STATUS| $name | $state | $dt |
"
done

{
  echo "## GPU check$([ -n "$DRY" ] && echo " (dry run: tiny sizes on the CPU, numbers mean nothing)")"
  echo
  "$PY" - <<'PYEOF'
import platform, torch
card = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA device"
try:
    import triton
    tv = triton.__version__
except ImportError:
    tv = "not installed"
print(f"{card}; torch {torch.__version__}, CUDA {torch.version.cuda}, triton {tv}, Python {platform.python_version()}")
PYEOF
  echo
  echo "Total $(( $(date +%s) - START )) s."
  echo
  echo "| section | status | s |"
  echo "|---|---|---:|"
  printf "%s" "$STATUS"
  for entry in $SECTIONS; do
    name=${entry%%:*}
    [ -f "$OUT/$name.md" ] && { echo; cat "$OUT/$name.md"; }
  done
} >"$OUT/README.md"
echo "gpu_check: wrote $OUT/README.md"
exit $FAILED
