#!/usr/bin/env bash
# The whole recipe "Live Event Broadcasting with Elemental MediaConnect", in
# order, in one shell: Preparation, steps 1-12, Validation 1-5, Cleanup 1-6.
# Each block is a file here, sourced as you would paste the recipe's blocks
# into one terminal; only the recipe's client-side defects are fixed
# (README.md lists them). Point the aws CLI at onair first (the lines
# `onair serve` prints), or at AWS:
#
#   export AWS_ENDPOINT_URL=http://127.0.0.1:8080 AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… AWS_REGION=us-east-1
#   examples/recipe/recipe.sh
#
# Run from a terminal (or with RECIPE_PAUSE=1), it stops twice: after step 12,
# so you can start the encoders on the ingest endpoints step 10 printed (and
# watch the HLS URL) before the Validation; and before the Cleanup.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

pause() {
    if [ -n "${RECIPE_PAUSE:-}" ] || [ -t 0 ]; then
        echo "⏸  $1 Press Enter to go on."
        read -r _
    fi
}

section() { echo; echo "=== $1"; }

section "Preparation";   . "$here/preparation.sh"
section "Steps 1-3";     . "$here/steps-1-3.sh"
section "Steps 4-10";    . "$here/steps-4-10.sh"
section "Steps 11-12";   . "$here/steps-11-12.sh"
pause "The pipeline runs: start the encoders on the ingest endpoints above; the Validation comes next."
section "Validation";    . "$here/validation.sh"
pause "Validated; the Cleanup deletes everything the recipe created."
section "Cleanup";       . "$here/cleanup.sh"
