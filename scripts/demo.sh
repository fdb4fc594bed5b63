#!/usr/bin/env bash
# Main job on a fresh machine: set up .venv (scripts/setup.sh), then run the end-to-end
# demo into demo-output/ (or the directory given as the first argument).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh"
cd "$root"
. .venv/bin/activate
out="${1:-demo-output}"
mkdir -p "$out"
dustsim simulate --init text:DUST --n 200000 --process vp --steps 1000 --record-every 50 --seed 0 \
  -o "$out/dust.zarr"
python - "$out/dust.zarr" <<'PY'
import sys
import dustsim
ds = dustsim.open_trajectory(sys.argv[1])
pos = ds.position
print(f"{ds.attrs['source']}: {pos.sizes['particle']} particles, {pos.sizes['time']} frames")
print(" time   alpha   sigma   cloud std (x, y)")
for t in ds.time.values[:: max(1, pos.sizes['time'] // 6)]:
    frame = pos.sel(time=t)
    std = frame.std("particle").values
    print(f"{t:5.2f}  {float(ds.alpha.sel(time=t)):6.3f}  {float(ds.sigma.sel(time=t)):6.3f}   {std[0]:.3f}, {std[1]:.3f}")
PY
