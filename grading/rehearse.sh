#!/usr/bin/env bash
# Dress rehearsal of the Gradescope autograder on a Debian/Ubuntu machine, as root:
#   1. unpack the autograder zip into a scratch /autograder-like folder and run its setup.sh for real
#      (it creates /opt/ps3-venv; with REHEARSE_OFFLINE_APT=1, apt-get is replaced by a check that the
#      packages are installed, for machines without Debian mirrors);
#   2. run run_autograder on the reference's student files (nested in a folder, as students zip them):
#      it must give full marks with the tests run as the unprivileged user `student`;
#   3. run it on a submission that tries to overwrite results.json at import: that must fail and cost points;
#   4. run it on a submission that reads a hidden test and rubric.json at import and raises their text: the
#      reads must fail (the autograder's files are root's; student code runs as `student` in the worker).
# Usage: sudo bash grading/rehearse.sh [dist/autograder.zip]
#   TORCH_INDEX=https://pypi.org/simple   where setup.sh takes torch from when the PyTorch CPU index is
#                                         out of reach (then a CUDA build: slower to install, same results)
set -euo pipefail
zip=$(realpath -m "${1:-dist/autograder.zip}")
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "rehearse.sh: run it as root (setup.sh installs into /opt, the tests drop to user student)" >&2; exit 1; }
[ -f "$zip" ] || { echo "rehearse.sh: no $zip; build it with: python -m grading autograder" >&2; exit 1; }
work=$(mktemp -d /tmp/rehearse-XXXX)
chmod 755 "$work"
mkdir -p "$work/source" "$work/submission/ps3" "$work/bin"
(cd "$work/source" && python3 -m zipfile -e "$zip" . && chmod +x setup.sh run_autograder)
if [ "${REHEARSE_OFFLINE_APT:-0}" = 1 ]; then
    cat > "$work/bin/apt-get" <<'EOF'
#!/bin/sh
[ "$1" = update ] && exit 0
for p in "$@"; do case "$p" in -*|install) ;; *) dpkg -s "$p" >/dev/null 2>&1 || { echo "apt-get stand-in: $p is not installed" >&2; exit 1; } ;; esac; done
EOF
    chmod +x "$work/bin/apt-get"
fi
clean_env=(env -i HOME=/root "PATH=$work/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
[ -n "${TORCH_INDEX:-}" ] && clean_env+=("TORCH_INDEX=$TORCH_INDEX")

echo "== setup.sh (as Gradescope builds the image)"
start=$(date +%s)
(cd "$work/source" && "${clean_env[@]}" bash setup.sh)
echo "   setup.sh took $(( $(date +%s) - start )) s"

grade() {  # $1: what; the submission is in $work/submission
    rm -rf "$work/results"
    (cd "$work/source" && "${clean_env[@]}" AUTOGRADER_ROOT="$work" bash run_autograder | tail -n 2)
    python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print(f'   {sys.argv[2]}: results.json score {d[\"score\"]:g}')" \
        "$work/results/results.json" "$1"
}
students=$(cd "$repo" && python3 -c "from zip_assignment import STUDENT_FILES; print(' '.join(STUDENT_FILES))")
for f in $students; do cp "$repo/$f" "$work/submission/ps3/"; done
echo "== run_autograder on the reference (expect full marks, tests as user student)"
grade reference
sed "s|^from __future__ import annotations$|&\nopen('$work/results/results.json', 'w').write('{\"score\": 999}')|" \
    "$repo/conv.py" > "$work/submission/ps3/conv.py"
echo "== run_autograder on a conv.py that writes results.json at import (expect PermissionError, conv tests 0)"
grade "tampering conv.py"
sed "s|^from __future__ import annotations$|&\nraise RuntimeError(open('$work/source/course/tests/transformer_hidden_tests.py').read() + open('$work/source/rubric.json').read())|" \
    "$repo/conv.py" > "$work/submission/ps3/conv.py"
echo "== run_autograder on a conv.py that shows a hidden test and the rubric at import (expect PermissionError)"
grade "conv.py that reads hidden files"
if grep -q "formula_positional_encoding\|\"hashes\"" "$work/results/results.json"; then
    echo "rehearse.sh: a hidden test's source or the rubric reached results.json" >&2; exit 1
fi
echo "   neither a hidden test's source nor the rubric is in results.json"
rm -rf "$work"
