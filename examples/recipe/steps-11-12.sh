# Steps 11-12 of the recipe: tags and log groups, and the flow-health script.
# Source it after steps-4-10.sh, in the same shell, or run recipe.sh.
#
# Only the recipe's client-side defects are fixed; README.md lists them.
(return 0 2>/dev/null) || { echo "steps-11-12.sh: source it after steps-4-10.sh, or run recipe.sh" >&2; exit 2; }

# ---------------------------------------------------------------- Step 11

# Enable detailed monitoring for MediaConnect flows
aws mediaconnect tag-resource \
    --resource-arn "${PRIMARY_FLOW_ARN}" \
    --tags Environment=Production,Application=LiveBroadcast,MonitoringLevel=Detailed

aws mediaconnect tag-resource \
    --resource-arn "${BACKUP_FLOW_ARN}" \
    --tags Environment=Production,Application=LiveBroadcast,MonitoringLevel=Detailed

# Create custom metric filter for advanced monitoring
aws logs create-log-group \
    --log-group-name "/aws/mediaconnect/${FLOW_NAME_PRIMARY}"

aws logs create-log-group \
    --log-group-name "/aws/mediaconnect/${FLOW_NAME_BACKUP}"

echo "✅ Configured additional security and monitoring"

# ---------------------------------------------------------------- Step 12

# Create test script for monitoring flow health
cat > /tmp/monitor-flows.sh << 'EOF'
#!/bin/bash

PRIMARY_FLOW_ARN=$1
BACKUP_FLOW_ARN=$2

while true; do
    echo "=== Flow Health Check $(date) ==="
    
    # Check primary flow status
    PRIMARY_STATUS=$(aws mediaconnect describe-flow \
        --flow-arn "${PRIMARY_FLOW_ARN}" \
        --query 'Flow.Status' --output text)
    echo "Primary Flow Status: ${PRIMARY_STATUS}"
    
    # Check backup flow status
    BACKUP_STATUS=$(aws mediaconnect describe-flow \
        --flow-arn "${BACKUP_FLOW_ARN}" \
        --query 'Flow.Status' --output text)
    echo "Backup Flow Status: ${BACKUP_STATUS}"
    
    sleep 30
done
EOF

chmod +x /tmp/monitor-flows.sh

echo "✅ Created flow monitoring script: /tmp/monitor-flows.sh"
echo "Run: /tmp/monitor-flows.sh ${PRIMARY_FLOW_ARN} ${BACKUP_FLOW_ARN}"
