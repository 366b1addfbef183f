# Steps 4-10 of the recipe: the MediaPackage channel, the MediaLive inputs,
# channel configuration and channel, the HLS origin endpoint, the CloudWatch
# alarms, and the start of the pipeline. Source it after preparation.sh and
# steps-1-3.sh, in the same shell, or run recipe.sh.
#
# Only the recipe's client-side defects are fixed; README.md lists them.
(return 0 2>/dev/null) || { echo "steps-4-10.sh: source it after steps-1-3.sh, or run recipe.sh" >&2; exit 2; }

# ---------------------------------------------------------------- Step 4

# Create MediaPackage channel for content distribution
aws mediapackage create-channel \
    --id "${MEDIAPACKAGE_CHANNEL_ID}" \
    --description "Live event broadcasting channel"

# Get MediaPackage channel details
export MEDIAPACKAGE_CHANNEL_ARN=$(aws mediapackage describe-channel \
    --id "${MEDIAPACKAGE_CHANNEL_ID}" \
    --query Arn --output text)

# Get HLS ingest endpoints
export MEDIAPACKAGE_INGEST_URL=$(aws mediapackage describe-channel \
    --id "${MEDIAPACKAGE_CHANNEL_ID}" \
    --query 'HlsIngest.IngestEndpoints[0].Url' \
    --output text)

export MEDIAPACKAGE_INGEST_USERNAME=$(aws mediapackage describe-channel \
    --id "${MEDIAPACKAGE_CHANNEL_ID}" \
    --query 'HlsIngest.IngestEndpoints[0].Username' \
    --output text)

export MEDIAPACKAGE_INGEST_PASSWORD=$(aws mediapackage describe-channel \
    --id "${MEDIAPACKAGE_CHANNEL_ID}" \
    --query 'HlsIngest.IngestEndpoints[0].Password' \
    --output text)

echo "✅ Created MediaPackage channel: ${MEDIAPACKAGE_CHANNEL_ARN}"

# ---------------------------------------------------------------- Step 5

# Create primary MediaLive input
aws medialive create-input \
    --name "${FLOW_NAME_PRIMARY}-input" \
    --type MEDIACONNECT \
    --media-connect-flows FlowArn="${PRIMARY_FLOW_ARN}" \
    --role-arn "${MEDIALIVE_ROLE_ARN}"

# Get primary input ID
export PRIMARY_INPUT_ID=$(aws medialive list-inputs \
    --query "Inputs[?Name=='${FLOW_NAME_PRIMARY}-input'].Id" \
    --output text)

# Create backup MediaLive input
aws medialive create-input \
    --name "${FLOW_NAME_BACKUP}-input" \
    --type MEDIACONNECT \
    --media-connect-flows FlowArn="${BACKUP_FLOW_ARN}" \
    --role-arn "${MEDIALIVE_ROLE_ARN}"

# Get backup input ID
export BACKUP_INPUT_ID=$(aws medialive list-inputs \
    --query "Inputs[?Name=='${FLOW_NAME_BACKUP}-input'].Id" \
    --output text)

echo "✅ Created MediaLive inputs: ${PRIMARY_INPUT_ID}, ${BACKUP_INPUT_ID}"

# ---------------------------------------------------------------- Step 6

# Create channel configuration JSON
cat > /tmp/medialive-channel-config.json << EOF
{
    "Name": "${MEDIALIVE_CHANNEL_NAME}",
    "RoleArn": "${MEDIALIVE_ROLE_ARN}",
    "InputAttachments": [
        {
            "InputAttachmentName": "primary-input",
            "InputId": "${PRIMARY_INPUT_ID}",
            "InputSettings": {
                "AudioSelectors": [
                    {
                        "Name": "default",
                        "SelectorSettings": {
                            "AudioPidSelection": {
                                "Pid": 256
                            }
                        }
                    }
                ],
                "VideoSelector": {
                    "SelectorSettings": {
                        "VideoSelectorProgramId": {
                            "ProgramId": 1
                        }
                    }
                }
            }
        },
        {
            "InputAttachmentName": "backup-input",
            "InputId": "${BACKUP_INPUT_ID}",
            "InputSettings": {
                "AudioSelectors": [
                    {
                        "Name": "default",
                        "SelectorSettings": {
                            "AudioPidSelection": {
                                "Pid": 256
                            }
                        }
                    }
                ],
                "VideoSelector": {
                    "SelectorSettings": {
                        "VideoSelectorProgramId": {
                            "ProgramId": 1
                        }
                    }
                }
            }
        }
    ],
    "Destinations": [
        {
            "Id": "mediapackage-destination",
            "MediaPackageSettings": [
                {
                    "ChannelId": "${MEDIAPACKAGE_CHANNEL_ID}"
                }
            ]
        }
    ],
    "EncoderSettings": {
        "TimecodeConfig": {
            "Source": "EMBEDDED"
        },
        "AudioDescriptions": [
            {
                "AudioSelectorName": "default",
                "CodecSettings": {
                    "AacSettings": {
                        "Bitrate": 128000,
                        "CodingMode": "CODING_MODE_2_0",
                        "InputType": "BROADCASTER_MIXED_AD",
                        "Profile": "LC",
                        "SampleRate": 48000
                    }
                },
                "Name": "audio_1"
            }
        ],
        "VideoDescriptions": [
            {
                "CodecSettings": {
                    "H264Settings": {
                        "Bitrate": 2000000,
                        "FramerateControl": "SPECIFIED",
                        "FramerateDenominator": 1,
                        "FramerateNumerator": 30,
                        "GopBReference": "DISABLED",
                        "GopClosedCadence": 1,
                        "GopNumBFrames": 2,
                        "GopSize": 90,
                        "GopSizeUnits": "FRAMES",
                        "Level": "H264_LEVEL_4_1",
                        "LookAheadRateControl": "MEDIUM",
                        "MaxBitrate": 2000000,
                        "NumRefFrames": 3,
                        "ParControl": "INITIALIZE_FROM_SOURCE",
                        "Profile": "MAIN",
                        "RateControlMode": "CBR",
                        "Syntax": "DEFAULT"
                    }
                },
                "Height": 720,
                "Name": "video_720p30",
                "RespondToAfd": "NONE",
                "Sharpness": 50,
                "Width": 1280
            }
        ],
        "OutputGroups": [
            {
                "Name": "mediapackage-output-group",
                "OutputGroupSettings": {
                    "MediaPackageGroupSettings": {
                        "Destination": {
                            "DestinationRefId": "mediapackage-destination"
                        }
                    }
                },
                "Outputs": [
                    {
                        "AudioDescriptionNames": ["audio_1"],
                        "OutputName": "720p30",
                        "OutputSettings": {
                            "MediaPackageOutputSettings": {}
                        },
                        "VideoDescriptionName": "video_720p30"
                    }
                ]
            }
        ]
    },
    "InputSpecification": {
        "Codec": "AVC",
        "Resolution": "HD",
        "MaximumBitrate": "MAX_10_MBPS"
    }
}
EOF

echo "✅ Created MediaLive channel configuration"

# ---------------------------------------------------------------- Step 7

# Create the MediaLive channel
aws medialive create-channel \
    --cli-input-json file:///tmp/medialive-channel-config.json

# Get channel ID
export MEDIALIVE_CHANNEL_ID=$(aws medialive list-channels \
    --query "Channels[?Name=='${MEDIALIVE_CHANNEL_NAME}'].Id" \
    --output text)

# Wait for channel to be in IDLE state
echo "Waiting for MediaLive channel to be ready..."
aws medialive wait channel-created \
    --channel-id "${MEDIALIVE_CHANNEL_ID}"

echo "✅ Created MediaLive channel: ${MEDIALIVE_CHANNEL_ID}"

# ---------------------------------------------------------------- Step 8

# Create HLS origin endpoint
aws mediapackage create-origin-endpoint \
    --channel-id "${MEDIAPACKAGE_CHANNEL_ID}" \
    --id "${MEDIAPACKAGE_CHANNEL_ID}-hls" \
    --description "HLS endpoint for live event broadcasting" \
    --hls-package AdMarkers=NONE,IncludeIframeOnlyStream=false,PlaylistType=EVENT,PlaylistWindowSeconds=60,ProgramDateTimeIntervalSeconds=0,SegmentDurationSeconds=6,'StreamSelection={MaxVideoBitsPerSecond=2147483647,MinVideoBitsPerSecond=0,StreamOrder=ORIGINAL}'

# Get endpoint URL
export HLS_ENDPOINT_URL=$(aws mediapackage describe-origin-endpoint \
    --id "${MEDIAPACKAGE_CHANNEL_ID}-hls" \
    --query Url --output text)

echo "✅ Created MediaPackage HLS endpoint: ${HLS_ENDPOINT_URL}"

# ---------------------------------------------------------------- Step 9

# Create CloudWatch alarm for MediaConnect flow errors
aws cloudwatch put-metric-alarm \
    --alarm-name "${FLOW_NAME_PRIMARY}-source-errors" \
    --alarm-description "Alert on MediaConnect primary flow source errors" \
    --metric-name "SourceConnectionErrors" \
    --namespace "AWS/MediaConnect" \
    --statistic "Sum" \
    --period 300 \
    --threshold 1 \
    --comparison-operator "GreaterThanOrEqualToThreshold" \
    --evaluation-periods 1 \
    --dimensions Name=FlowName,Value="${FLOW_NAME_PRIMARY}"

# Create CloudWatch alarm for MediaLive channel errors
aws cloudwatch put-metric-alarm \
    --alarm-name "${MEDIALIVE_CHANNEL_NAME}-input-errors" \
    --alarm-description "Alert on MediaLive channel input errors" \
    --metric-name "InputVideoFrameRate" \
    --namespace "AWS/MediaLive" \
    --statistic "Average" \
    --period 300 \
    --threshold 1 \
    --comparison-operator "LessThanThreshold" \
    --evaluation-periods 2 \
    --dimensions Name=ChannelId,Value="${MEDIALIVE_CHANNEL_ID}"

echo "✅ Configured CloudWatch monitoring and alarms"

# ---------------------------------------------------------------- Step 10

# Start MediaConnect flows
aws mediaconnect start-flow \
    --flow-arn "${PRIMARY_FLOW_ARN}"

aws mediaconnect start-flow \
    --flow-arn "${BACKUP_FLOW_ARN}"

# Start MediaLive channel
aws medialive start-channel \
    --channel-id "${MEDIALIVE_CHANNEL_ID}"

# Wait for channel to start
echo "Waiting for MediaLive channel to start..."
aws medialive wait channel-running \
    --channel-id "${MEDIALIVE_CHANNEL_ID}"

echo "✅ Broadcasting pipeline is now active"
echo "Primary flow ingest endpoint: $(aws mediaconnect describe-flow \
    --flow-arn "${PRIMARY_FLOW_ARN}" \
    --query 'Flow.Source.IngestIp' --output text):5000"
echo "Backup flow ingest endpoint: $(aws mediaconnect describe-flow \
    --flow-arn "${BACKUP_FLOW_ARN}" \
    --query 'Flow.Source.IngestIp' --output text):5001"
echo "HLS playback URL: ${HLS_ENDPOINT_URL}"
