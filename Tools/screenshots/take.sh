#!/usr/bin/env bash
# Screenshots of TensorBoard showing `gradalert demo`, for docs/getting-started.md.
#
#   Tools/screenshots/take.sh [GRADALERT_BINARY]
#
#   GRADALERT_BINARY  the gradalert to run (or env GRADALERT; default .build/release/gradalert,
#                     which `swift build -c release` makes). It is copied first, so a rebuild
#                     during the run does not matter.
#   OUT=DIR           where the PNGs go (default docs/images)
#   KEEP=1            keep the work folder (runs, demo output, TensorBoard's log)
#   CHROMIUM=PATH     the browser (default chromium)
#
# Installs what is missing (Debian: chromium, fonts, optipng, pngquant; a venv with the
# TensorBoard pinned in Tools/compat/requirements.txt, shared with Tools/check), runs the demo
# into a temporary logdir, serves it with `tensorboard --load_fast=true` on 127.0.0.1 and a free
# port, takes the pictures listed by `Tools/screenshots/shoot.py --list` with headless Chromium,
# shrinks them (each must end under 400 KB) and stops TensorBoard. Takes about a minute once
# everything is installed.
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$(pwd)
binary=${1:-${GRADALERT:-.build/release/gradalert}}
out=${OUT:-docs/images}
chromium=${CHROMIUM:-chromium}
max_bytes=$((400 * 1024))

step() { printf '\n==> %s\n' "$*"; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
started=$SECONDS

[[ -x "$binary" ]] || { echo "take.sh: no gradalert binary at $binary (build it: swift build -c release)" >&2; exit 2; }

# 1. System packages.
missing=()
command -v "$chromium" >/dev/null || missing+=(chromium)
[[ -d /usr/share/fonts/truetype/dejavu ]] || missing+=(fonts-dejavu-core)
[[ -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]] || missing+=(fonts-noto-color-emoji)  # the alerts' 🔴 🟠
command -v optipng >/dev/null || missing+=(optipng)
command -v pngquant >/dev/null || missing+=(pngquant)
if (( ${#missing[@]} )); then
    step "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# 2. The venv with the pinned TensorBoard (the same one, and the same test, as Tools/check).
venv="$root/.venv"
requirements="$root/Tools/compat/requirements.txt"
stamp="$venv/.gradalert-requirements"
if [[ ! -x "$venv/bin/python" ]] || ! cmp -s "$requirements" "$stamp"; then
    step "creating $venv with the pinned TensorBoard"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi
python="$venv/bin/python"

work=$(mktemp -d "${TMPDIR:-/tmp}/gradalert-shots.XXXXXX")
tb_pid=""
cleanup() {
    if [[ -n "$tb_pid" ]] && kill -0 "$tb_pid" 2>/dev/null; then
        # TensorBoard leads its own process group (setsid), which holds its data server too.
        if [[ "$(ps -o pgid= -p "$tb_pid" | tr -d ' ')" == "$tb_pid" ]]; then
            kill -TERM -- "-$tb_pid" 2>/dev/null || true
            for _ in $(seq 20); do kill -0 "$tb_pid" 2>/dev/null || break; sleep 0.25; done
            kill -KILL -- "-$tb_pid" 2>/dev/null || true
        else
            kill -TERM "$tb_pid" 2>/dev/null || true
        fi
    fi
    if [[ "${KEEP:-0}" == 1 ]]; then echo "work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 3. The demo.
step "gradalert demo --logdir $work/runs"
cp "$binary" "$work/gradalert"
timeout 600 "$work/gradalert" demo --logdir "$work/runs" | tee "$work/demo.txt"
# A run is a folder that holds event files: the demo's are <cause>/<variant>, two levels down.
mapfile -t runs < <(cd "$work/runs" && find . -name '*tfevents*' -printf '%h\n' | sed 's:^\./::' | sort -u)
(( ${#runs[@]} > 0 )) || { echo "take.sh: the demo wrote no runs" >&2; exit 1; }

# 4. TensorBoard on 127.0.0.1 and a free port, in its own process group.
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step "tensorboard --logdir $work/runs --host 127.0.0.1 --port $port --load_fast=true"
setsid "$venv/bin/tensorboard" --logdir "$work/runs" --host 127.0.0.1 --port "$port" --load_fast=true \
    --extra_data_server_flags=--verbose >"$work/tensorboard.log" 2>&1 </dev/null &
tb_pid=$!
url="http://127.0.0.1:$port/"
"$python" "$root/Tools/screenshots/shoot.py" --url "$url" --wait-for-runs "${runs[@]}" \
    --server-log "$work/tensorboard.log" --timeout 90 --wait-only \
    || { tail -20 "$work/tensorboard.log" >&2; exit 1; }

# 5. The pictures.
step "screenshots into $out"
mkdir -p "$out"
"$python" "$root/Tools/screenshots/shoot.py" --url "$url" --out "$out" --chromium "$chromium"

# 6. Smaller files: lossless first, then colour quantisation only where still too big.
step "shrinking"
status=0
mapfile -t shots < <("$python" "$root/Tools/screenshots/shoot.py" --list | awk '{print $1}')
(( ${#shots[@]} > 0 )) || { echo "take.sh: shoot.py --list gave no shots" >&2; exit 1; }
for shot in "${shots[@]}"; do
    file="$out/$shot.png"
    [[ -f "$file" ]] || { echo "missing: $file" >&2; status=1; continue; }
    optipng -quiet -o2 -strip all "$file"
    if (( $(stat -c %s "$file") > max_bytes )); then
        pngquant --force --skip-if-larger --quality=70-95 --strip --output "$file" -- "$file" || true
    fi
    size=$(stat -c %s "$file")
    printf '  %-40s %4d KB %s\n' "$file" $((size / 1024)) "$( (( size > max_bytes )) && echo '(over 400 KB)')"
    (( size <= max_bytes )) || status=1
done

printf '\ntook %d s\n' $((SECONDS - started))
exit $status
