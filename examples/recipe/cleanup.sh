# The recipe's Cleanup, 1-6: stops and deletes everything the recipe created.
# Source it after the other blocks, in the same shell, or run recipe.sh.
(return 0 2>/dev/null) || { echo "cleanup.sh: source it after the other blocks, or run recipe.sh" >&2; exit 2; }

# ---------------------------------------------------------------- Cleanup 1

# Stop MediaLive channel
aws medialive stop-channel \
    --channel-id "${MEDIALIVE_CHANNEL_ID}"

# Wait for channel to stop
aws medialive wait channel-stopped \
    --channel-id "${MEDIALIVE_CHANNEL_ID}"

echo "✅ Stopped MediaLive channel"

# ---------------------------------------------------------------- Cleanup 2

# Stop MediaConnect flows
aws mediaconnect stop-flow \
    --flow-arn "${PRIMARY_FLOW_ARN}"

aws mediaconnect stop-flow \
    --flow-arn "${BACKUP_FLOW_ARN}"

echo "✅ Stopped MediaConnect flows"

# ---------------------------------------------------------------- Cleanup 3

# Delete MediaPackage origin endpoint
aws mediapackage delete-origin-endpoint \
    --id "${MEDIAPACKAGE_CHANNEL_ID}-hls"

# Delete MediaPackage channel
aws mediapackage delete-channel \
    --id "${MEDIAPACKAGE_CHANNEL_ID}"

echo "✅ Deleted MediaPackage resources"

# ---------------------------------------------------------------- Cleanup 4

# Delete MediaLive channel
aws medialive delete-channel \
    --channel-id "${MEDIALIVE_CHANNEL_ID}"

# Delete MediaLive inputs
aws medialive delete-input \
    --input-id "${PRIMARY_INPUT_ID}"

aws medialive delete-input \
    --input-id "${BACKUP_INPUT_ID}"

echo "✅ Deleted MediaLive resources"

# ---------------------------------------------------------------- Cleanup 5

# Delete MediaConnect flows
aws mediaconnect delete-flow \
    --flow-arn "${PRIMARY_FLOW_ARN}"

aws mediaconnect delete-flow \
    --flow-arn "${BACKUP_FLOW_ARN}"

echo "✅ Deleted MediaConnect flows"

# ---------------------------------------------------------------- Cleanup 6

# Delete CloudWatch alarms
aws cloudwatch delete-alarms \
    --alarm-names "${FLOW_NAME_PRIMARY}-source-errors" \
                  "${MEDIALIVE_CHANNEL_NAME}-input-errors"

# Delete log groups
aws logs delete-log-group \
    --log-group-name "/aws/mediaconnect/${FLOW_NAME_PRIMARY}"

aws logs delete-log-group \
    --log-group-name "/aws/mediaconnect/${FLOW_NAME_BACKUP}"

# Detach policies and delete IAM role
aws iam detach-role-policy \
    --role-name "${IAM_ROLE_NAME}" \
    --policy-arn "arn:aws:iam::aws:policy/MediaLiveFullAccess"

aws iam detach-role-policy \
    --role-name "${IAM_ROLE_NAME}" \
    --policy-arn "arn:aws:iam::aws:policy/MediaConnectFullAccess"

aws iam detach-role-policy \
    --role-name "${IAM_ROLE_NAME}" \
    --policy-arn "arn:aws:iam::aws:policy/MediaPackageFullAccess"

aws iam delete-role \
    --role-name "${IAM_ROLE_NAME}"

# Remove temporary files
rm -f /tmp/medialive-channel-config.json
rm -f /tmp/monitor-flows.sh

echo "✅ Cleaned up all resources"
