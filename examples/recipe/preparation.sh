# The recipe's Preparation: region, account, a random suffix and the resource
# names, and the IAM role MediaLive uses. Source it in the shell that runs the
# other blocks (as you would paste the recipe's blocks into one terminal), or
# run recipe.sh, which sources every block in order:
#
#   . examples/recipe/preparation.sh
#
# Only the recipe's client-side defects are fixed; README.md lists them.
(return 0 2>/dev/null) || { echo "preparation.sh: source it ('. $0') or run recipe.sh" >&2; exit 2; }

# Set environment variables
# Recipe: export AWS_REGION=$(aws configure get region)
# `aws configure get region` reads only the config file; with the region in
# AWS_REGION / AWS_DEFAULT_REGION (as `onair serve` prints it) it prints
# nothing and exits 1 (README, defect 3).
export AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region || true)}}"
export AWS_ACCOUNT_ID=$(aws sts get-caller-identity \
    --query Account --output text)

# Generate unique identifiers for resources
RANDOM_SUFFIX=$(aws secretsmanager get-random-password \
    --exclude-punctuation --exclude-uppercase \
    --password-length 6 --require-each-included-type \
    --output text --query RandomPassword)

# Set resource names
export FLOW_NAME_PRIMARY="live-event-primary-${RANDOM_SUFFIX}"
export FLOW_NAME_BACKUP="live-event-backup-${RANDOM_SUFFIX}"
export MEDIALIVE_CHANNEL_NAME="live-event-channel-${RANDOM_SUFFIX}"
export MEDIAPACKAGE_CHANNEL_ID="live-event-package-${RANDOM_SUFFIX}"
export IAM_ROLE_NAME="MediaLiveAccessRole-${RANDOM_SUFFIX}"

# Create IAM role for MediaLive
aws iam create-role \
    --role-name "${IAM_ROLE_NAME}" \
    --assume-role-policy-document '{
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {
                    "Service": "medialive.amazonaws.com"
                },
                "Action": "sts:AssumeRole"
            }
        ]
    }'

# Attach necessary policies to the role
aws iam attach-role-policy \
    --role-name "${IAM_ROLE_NAME}" \
    --policy-arn "arn:aws:iam::aws:policy/MediaLiveFullAccess"

aws iam attach-role-policy \
    --role-name "${IAM_ROLE_NAME}" \
    --policy-arn "arn:aws:iam::aws:policy/MediaConnectFullAccess"

aws iam attach-role-policy \
    --role-name "${IAM_ROLE_NAME}" \
    --policy-arn "arn:aws:iam::aws:policy/MediaPackageFullAccess"

# Get the role ARN
export MEDIALIVE_ROLE_ARN=$(aws iam get-role \
    --role-name "${IAM_ROLE_NAME}" \
    --query Role.Arn --output text)

echo "✅ Created IAM role: ${MEDIALIVE_ROLE_ARN}"

# Wait for role to be fully available
# (RECIPE_ROLE_WAIT_SECONDS shortens the recipe's 30 s: onair's role exists at
# once. Unset, the recipe's value is used.)
sleep "${RECIPE_ROLE_WAIT_SECONDS:-30}"
