# The recipe's Validation & Testing, 1-5. Source it after steps-11-12.sh with
# the encoders sending, in the same shell, or run recipe.sh.
(return 0 2>/dev/null) || { echo "validation.sh: source it after steps-11-12.sh, or run recipe.sh" >&2; exit 2; }

# ---------------------------------------------------------------- Validation 1

# Check primary flow status
aws mediaconnect describe-flow \
    --flow-arn "${PRIMARY_FLOW_ARN}" \
    --query 'Flow.Status'

# ---------------------------------------------------------------- Validation 2

# Check MediaLive channel status
aws medialive describe-channel \
    --channel-id "${MEDIALIVE_CHANNEL_ID}" \
    --query 'State'

# ---------------------------------------------------------------- Validation 3

# Monitor MediaConnect flow metrics
aws cloudwatch get-metric-statistics \
    --namespace "AWS/MediaConnect" \
    --metric-name "SourceBitRate" \
    --dimensions Name=FlowName,Value="${FLOW_NAME_PRIMARY}" \
    --start-time "$(date -u -d '5 minutes ago' '+%Y-%m-%dT%H:%M:%S')" \
    --end-time "$(date -u '+%Y-%m-%dT%H:%M:%S')" \
    --period 300 \
    --statistics Average

# ---------------------------------------------------------------- Validation 4

# Test HLS endpoint accessibility
curl -I "${HLS_ENDPOINT_URL}"

# Check if m3u8 playlist is accessible
curl -s "${HLS_ENDPOINT_URL}" | head -10

# ---------------------------------------------------------------- Validation 5

# Check CloudWatch alarms status
aws cloudwatch describe-alarms \
    --alarm-names "${FLOW_NAME_PRIMARY}-source-errors" \
                  "${MEDIALIVE_CHANNEL_NAME}-input-errors" \
    --query 'MetricAlarms[*].[AlarmName,StateValue]' \
    --output table
