#!/usr/bin/env bash
# Steps 1-3 of the "Live Event Broadcasting with Elemental MediaConnect"
# recipe (preparation, primary flow, backup flow, MediaLive outputs), runnable
# with the real aws CLI against AWS or against `onair serve`.
#
# Only the recipe's client-side defects are fixed; see README.md in this
# directory for the exact list. Run it with AWS_ENDPOINT_URL (and the key
# pair) that `onair serve` printed:
#
#   eval "$(grep ^export onair-serve-output.txt)"   # or paste the exports
#   examples/recipe/steps-1-3.sh
set -euo pipefail

# ---------------------------------------------------------------- Preparation

# Set environment variables.
# Recipe: export AWS_REGION=$(aws configure get region)
# `aws configure get region` reads only the config file: it prints nothing
# (and exits 1) when the region comes from AWS_REGION / AWS_DEFAULT_REGION.
export AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region || true)}}"
if [ -z "${AWS_REGION}" ]; then
    echo "steps-1-3: no region: set AWS_REGION or AWS_DEFAULT_REGION" >&2
    exit 1
fi
# Recipe: export AWS_ACCOUNT_ID=$(aws sts get-caller-identity --query Account --output text)
# Steps 1-3 do not use it; onair has no STS, so a failure is not fatal here.
if [ -z "${AWS_ACCOUNT_ID:-}" ]; then
    AWS_ACCOUNT_ID="$(aws sts get-caller-identity --query Account --output text 2>/dev/null || true)"
    [ -n "${AWS_ACCOUNT_ID}" ] || echo "ℹ️  STS is not available here: AWS_ACCOUNT_ID skipped (steps 1-3 do not need it)"
fi
export AWS_ACCOUNT_ID

# Generate unique identifiers for resources.
# Recipe: aws secretsmanager get-random-password … (onair has no Secrets
# Manager); the same 6 lowercase letters and digits, or RANDOM_SUFFIX as given.
if [ -z "${RANDOM_SUFFIX:-}" ]; then
    RANDOM_SUFFIX="$(LC_ALL=C tr -dc 'a-z0-9' </dev/urandom | head -c 6 || true)"
fi
export RANDOM_SUFFIX

# Set resource names
export FLOW_NAME_PRIMARY="live-event-primary-${RANDOM_SUFFIX}"
export FLOW_NAME_BACKUP="live-event-backup-${RANDOM_SUFFIX}"
export MEDIALIVE_CHANNEL_NAME="live-event-channel-${RANDOM_SUFFIX}"
export MEDIAPACKAGE_CHANNEL_ID="live-event-package-${RANDOM_SUFFIX}"
export IAM_ROLE_NAME="MediaLiveAccessRole-${RANDOM_SUFFIX}"

# The IAM role (create-role, attach-role-policy, get-role, sleep 30) is for
# MediaLive (step 5 onwards) and is not part of steps 1-3: not created here.

# ---------------------------------------------------------------- Step 1

# Create primary flow for main video feed
aws mediaconnect create-flow \
    --name "${FLOW_NAME_PRIMARY}" \
    --availability-zone "${AWS_REGION}a" \
    --source Name=PrimarySource,Protocol=rtp,IngestPort=5000,WhitelistCidr=0.0.0.0/0,Description="Primary encoder input"

# Store primary flow ARN
export PRIMARY_FLOW_ARN=$(aws mediaconnect list-flows \
    --query "Flows[?Name=='${FLOW_NAME_PRIMARY}'].FlowArn" \
    --output text)

echo "✅ Created primary MediaConnect flow: ${PRIMARY_FLOW_ARN}"

# ---------------------------------------------------------------- Step 2

# Create backup flow for redundancy
aws mediaconnect create-flow \
    --name "${FLOW_NAME_BACKUP}" \
    --availability-zone "${AWS_REGION}b" \
    --source Name=BackupSource,Protocol=rtp,IngestPort=5001,WhitelistCidr=0.0.0.0/0,Description="Backup encoder input"

# Store backup flow ARN
export BACKUP_FLOW_ARN=$(aws mediaconnect list-flows \
    --query "Flows[?Name=='${FLOW_NAME_BACKUP}'].FlowArn" \
    --output text)

echo "✅ Created backup MediaConnect flow: ${BACKUP_FLOW_ARN}"

# ---------------------------------------------------------------- Step 3

# Add output to primary flow for MediaLive
aws mediaconnect add-flow-outputs \
    --flow-arn "${PRIMARY_FLOW_ARN}" \
    --outputs Name=MediaLiveOutput,Protocol=rtp-fec,Destination=0.0.0.0,Port=5002,Description="Output to MediaLive primary input"

# Add output to backup flow for MediaLive
aws mediaconnect add-flow-outputs \
    --flow-arn "${BACKUP_FLOW_ARN}" \
    --outputs Name=MediaLiveOutput,Protocol=rtp-fec,Destination=0.0.0.0,Port=5003,Description="Output to MediaLive backup input"

echo "✅ Configured flow outputs for MediaLive integration"
