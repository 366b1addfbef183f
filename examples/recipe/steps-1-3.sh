# Steps 1-3 of the recipe: the primary and the backup MediaConnect flow and
# their rtp-fec outputs for MediaLive. Source it after preparation.sh, in the
# same shell, or run recipe.sh:
#
#   . examples/recipe/preparation.sh && . examples/recipe/steps-1-3.sh
#
# Only the recipe's client-side defects are fixed; README.md lists them.
(return 0 2>/dev/null) || { echo "steps-1-3.sh: source it after preparation.sh, or run recipe.sh" >&2; exit 2; }

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
