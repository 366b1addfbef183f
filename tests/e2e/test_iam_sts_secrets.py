"""STS, IAM and Secrets Manager through the real aws CLI and boto3: the
recipe's Preparation and Cleanup commands verbatim, the modelled exceptions
boto3 raises, persistence across `kill -9`, and MediaLive's check that a
channel's RoleArn names a role that exists.
"""

import json
import re
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import AWS, MEDIALIVE_TRUST_POLICY, medialive_role
from test_medialive import channel_config, medialive

POLICIES = [
    "arn:aws:iam::aws:policy/MediaLiveFullAccess",
    "arn:aws:iam::aws:policy/MediaConnectFullAccess",
    "arn:aws:iam::aws:policy/MediaPackageFullAccess",
]

# The recipe's create-role argument, as it is written there.
RECIPE_TRUST_POLICY = """{
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
    }"""


def cli(server, *args, timeout=60):
    """The CLI exactly as a shell runs it (no `--output` added):
    the CompletedProcess."""
    return subprocess.run([AWS, *map(str, args)], capture_output=True, text=True, env=server.env,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def cli_text(server, *args):
    p = cli(server, *args)
    assert p.returncode == 0, f"aws {' '.join(map(str, args))} exited {p.returncode}:\n{p.stderr}"
    # Only the newline the CLI ends with: a password may begin or end with a space.
    return p.stdout.removesuffix("\n")


def account_of(server):
    return json.loads((server.data_dir / "credentials.json").read_text())["account_id"]


def test_the_recipe_s_preparation_and_cleanup(server):
    # export AWS_ACCOUNT_ID=$(aws sts get-caller-identity --query Account --output text)
    account = cli_text(server, "sts", "get-caller-identity", "--query", "Account", "--output", "text")
    assert re.fullmatch(r"\d{12}", account) and account == account_of(server)

    # RANDOM_SUFFIX=$(aws secretsmanager get-random-password ...)
    suffixes = set()
    for _ in range(5):
        suffix = cli_text(server, "secretsmanager", "get-random-password",
                          "--exclude-punctuation", "--exclude-uppercase",
                          "--password-length", "6", "--require-each-included-type",
                          "--output", "text", "--query", "RandomPassword")
        assert re.fullmatch(r"[a-z0-9]{6}", suffix), suffix
        assert re.search(r"[a-z]", suffix) and re.search(r"[0-9]", suffix), suffix
        suffixes.add(suffix)
    assert len(suffixes) > 1
    role = f"MediaLiveAccessRole-{suffix}"

    created = cli(server, "iam", "create-role", "--role-name", role,
                  "--assume-role-policy-document", RECIPE_TRUST_POLICY)
    assert created.returncode == 0, created.stderr
    doc = json.loads(created.stdout)["Role"]
    assert doc["RoleName"] == role and doc["Path"] == "/"
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", doc["RoleId"]), doc["RoleId"]
    # botocore decodes the URL-encoded document IAM sends.
    assert doc["AssumeRolePolicyDocument"] == MEDIALIVE_TRUST_POLICY
    for arn in POLICIES:
        p = cli(server, "iam", "attach-role-policy", "--role-name", role, "--policy-arn", arn)
        assert p.returncode == 0 and p.stdout == "", p.stderr

    # export MEDIALIVE_ROLE_ARN=$(aws iam get-role ... --query Role.Arn --output text)
    role_arn = cli_text(server, "iam", "get-role", "--role-name", role, "--query", "Role.Arn", "--output", "text")
    assert role_arn == f"arn:aws:iam::{account}:role/{role}"
    cli_text(server, "iam", "wait", "role-exists", "--role-name", role)
    attached = server.aws("iam", "list-attached-role-policies", "--role-name", role)["AttachedPolicies"]
    assert attached == [{"PolicyName": a.rsplit("/", 1)[1], "PolicyArn": a} for a in POLICIES]
    assert role_arn in [r["Arn"] for r in server.aws("iam", "list-roles")["Roles"]]

    # The role is what the channel names.
    ml = medialive(server)
    a = ml.create_input(Name="a", Type="RTP_PUSH")["Input"]["Id"]
    b = ml.create_input(Name="b", Type="RTP_PUSH")["Input"]["Id"]
    ch = ml.create_channel(**channel_config("live-event", a, b, role_arn))["Channel"]
    assert ch["RoleArn"] == role_arn

    # Cleanup: a role with policies attached is not deleted.
    p = cli(server, "iam", "delete-role", "--role-name", role)
    assert p.returncode == 255
    assert "An error occurred (DeleteConflict) when calling the DeleteRole operation: " \
           "Cannot delete entity, must detach all policies first." in p.stderr, p.stderr
    for arn in POLICIES:
        p = cli(server, "iam", "detach-role-policy", "--role-name", role, "--policy-arn", arn)
        assert p.returncode == 0, p.stderr
    p = cli(server, "iam", "delete-role", "--role-name", role)
    assert p.returncode == 0, p.stderr
    p = cli(server, "iam", "get-role", "--role-name", role)
    assert p.returncode == 255 and "(NoSuchEntity)" in p.stderr, p.stderr


def test_the_role_exists_waiter_waits_for_the_role(server):
    """role-exists polls GetRole every second while it answers NoSuchEntity."""
    waiter = subprocess.Popen([AWS, "iam", "wait", "role-exists", "--role-name", "late"], env=server.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        time.sleep(2.5)
        assert waiter.poll() is None, waiter.communicate()
        server.client("iam").create_role(RoleName="late",
                                         AssumeRolePolicyDocument=json.dumps(MEDIALIVE_TRUST_POLICY))
        out, err = waiter.communicate(timeout=15)
        assert waiter.returncode == 0, err
    finally:
        if waiter.poll() is None:
            waiter.kill()
    iam = server.client("iam")
    iam.get_waiter("role_exists").wait(RoleName="late", WaiterConfig={"Delay": 1, "MaxAttempts": 3})


def test_boto3_raises_the_modelled_exceptions(server):
    iam = server.client("iam")
    trust = json.dumps(MEDIALIVE_TRUST_POLICY)
    with pytest.raises(iam.exceptions.NoSuchEntityException) as e:
        iam.get_role(RoleName="nobody")
    assert e.value.response["Error"]["Message"] == "The role with name nobody cannot be found."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    role = iam.create_role(RoleName="ops", AssumeRolePolicyDocument=trust, Path="/media/",
                           Description="on air", Tags=[{"Key": "team", "Value": "video"}])["Role"]
    assert role["Arn"].endswith(":role/media/ops")
    got = iam.get_role(RoleName="OPS")["Role"]
    assert got["Tags"] == [{"Key": "team", "Value": "video"}] and got["Description"] == "on air"
    assert got["MaxSessionDuration"] == 3600 and got["CreateDate"] == role["CreateDate"]
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName="Ops", AssumeRolePolicyDocument=trust)
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException) as e:
        iam.create_role(RoleName="broken", AssumeRolePolicyDocument="{not json")
    assert "AssumeRolePolicyDocument" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        iam.create_role(RoleName="bad name", AssumeRolePolicyDocument=trust)
    assert e.value.response["Error"]["Code"] == "ValidationError"
    assert "'roleName'" in e.value.response["Error"]["Message"]
    with pytest.raises(iam.exceptions.InvalidInputException):
        iam.attach_role_policy(RoleName="ops", PolicyArn="arn:aws:s3:::not-a-policy/x")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.attach_role_policy(RoleName="ops", PolicyArn=f"arn:aws:iam::{account_of(server)}:policy/Mine")
    iam.attach_role_policy(RoleName="ops", PolicyArn=POLICIES[0])
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_role(RoleName="ops")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.detach_role_policy(RoleName="ops", PolicyArn=POLICIES[1])

    # ListRoles pages with Marker / IsTruncated; the paginator follows them.
    for i in range(5):
        iam.create_role(RoleName=f"r{i}", AssumeRolePolicyDocument=trust)
    page = iam.list_roles(MaxItems=2)
    assert len(page["Roles"]) == 2 and page["IsTruncated"] and page["Marker"]
    names = [r["RoleName"] for p in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 2})
             for r in p["Roles"]]
    assert names == ["ops", "r0", "r1", "r2", "r3", "r4"]
    assert [r["RoleName"] for r in iam.list_roles(PathPrefix="/media/")["Roles"]] == ["ops"]
    # The CLI pages through them itself.
    assert len(server.aws("iam", "list-roles", "--page-size", "2")["Roles"]) == 6

    sts = server.client("sts")
    who = sts.get_caller_identity()
    assert who["Account"] == account_of(server)
    assert who["Arn"] == f"arn:aws:iam::{who['Account']}:user/onair"
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", who["UserId"]), who["UserId"]
    assert sts.get_caller_identity()["UserId"] == who["UserId"]
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="session")
    assert e.value.response["Error"]["Code"] == "InvalidAction"

    sm = server.client("secretsmanager")
    with pytest.raises(sm.exceptions.ResourceNotFoundException) as e:
        sm.get_secret_value(SecretId="nothing")
    assert e.value.response["Error"]["Message"] == "Secrets Manager can't find the specified secret."
    with pytest.raises(sm.exceptions.InvalidParameterException):
        sm.get_random_password(ExcludeLowercase=True, ExcludeUppercase=True, ExcludeNumbers=True,
                               ExcludePunctuation=True)
    secret = sm.create_secret(Name="ingest/password", SecretString="s3cret!")
    with pytest.raises(sm.exceptions.ResourceExistsException):
        sm.create_secret(Name="ingest/password", SecretString="other")
    with pytest.raises(sm.exceptions.InvalidParameterException):
        sm.delete_secret(SecretId=secret["ARN"], RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    deleted = sm.delete_secret(SecretId=secret["ARN"], RecoveryWindowInDays=7)
    assert (deleted["DeletionDate"] - sm.describe_secret(SecretId=secret["ARN"])["DeletedDate"]).days == 7
    with pytest.raises(sm.exceptions.InvalidRequestException):
        sm.get_secret_value(SecretId="ingest/password")
    sm.restore_secret(SecretId="ingest/password")
    assert sm.get_secret_value(SecretId="ingest/password")["SecretString"] == "s3cret!"


def test_secrets_with_the_cli(server):
    p = cli(server, "secretsmanager", "get-random-password", "--password-length", "4097")
    assert p.returncode == 255 and "(InvalidParameterException)" in p.stderr and "PasswordLength" in p.stderr
    p = cli(server, "secretsmanager", "get-random-password", "--password-length", "3")
    assert p.returncode == 255 and "RequireEachIncludedType" in p.stderr, p.stderr
    password = cli_text(server, "secretsmanager", "get-random-password", "--output", "text",
                        "--query", "RandomPassword")
    assert len(password) == 32
    password = cli_text(server, "secretsmanager", "get-random-password", "--exclude-characters", "abcdefgh",
                        "--include-space", "--no-require-each-included-type", "--password-length", "200",
                        "--output", "text", "--query", "RandomPassword")
    assert len(password) == 200 and not set("abcdefgh") & set(password)

    created = server.aws("secretsmanager", "create-secret", "--name", "encoder/srt", "--secret-string",
                         '{"passphrase":"0123456789"}', "--description", "SRT passphrase",
                         "--tags", "Key=event,Value=awards")
    arn = created["ARN"]
    assert re.fullmatch(rf"arn:aws:secretsmanager:{server.region}:{account_of(server)}:"
                        r"secret:encoder/srt-[A-Za-z0-9]{6}", arn), arn
    value = cli_text(server, "secretsmanager", "get-secret-value", "--secret-id", "encoder/srt",
                     "--query", "SecretString", "--output", "text")
    assert json.loads(value) == {"passphrase": "0123456789"}
    put = server.aws("secretsmanager", "put-secret-value", "--secret-id", arn, "--secret-string", "second")
    assert put["VersionStages"] == ["AWSCURRENT"]
    prev = server.aws("secretsmanager", "get-secret-value", "--secret-id", arn[:-7], "--version-stage",
                      "AWSPREVIOUS")
    assert prev["VersionId"] == created["VersionId"]
    described = server.aws("secretsmanager", "describe-secret", "--secret-id", arn)
    assert described["VersionIdsToStages"] == {created["VersionId"]: ["AWSPREVIOUS"],
                                               put["VersionId"]: ["AWSCURRENT"]}
    assert described["Tags"] == [{"Key": "event", "Value": "awards"}]
    assert "SecretString" not in described
    listed = server.aws("secretsmanager", "list-secrets")["SecretList"]
    assert [s["Name"] for s in listed] == ["encoder/srt"]
    names = server.aws("secretsmanager", "list-secrets", "--filters", "Key=name,Values=nothing")["SecretList"]
    assert names == []

    gone = server.aws("secretsmanager", "delete-secret", "--secret-id", arn, "--force-delete-without-recovery")
    assert gone["Name"] == "encoder/srt"
    p = cli(server, "secretsmanager", "describe-secret", "--secret-id", arn)
    assert p.returncode == 255 and "(ResourceNotFoundException)" in p.stderr, p.stderr


def test_roles_and_secrets_survive_kill_9(server):
    iam = server.client("iam")
    role = iam.create_role(RoleName="kept", AssumeRolePolicyDocument=json.dumps(MEDIALIVE_TRUST_POLICY))["Role"]
    for arn in POLICIES:
        iam.attach_role_policy(RoleName="kept", PolicyArn=arn)
    sm = server.client("secretsmanager")
    sm.create_secret(Name="kept", SecretString="first")
    sm.put_secret_value(SecretId="kept", SecretString="kept-value-2-zq7731")
    sm.create_secret(Name="scheduled", SecretString="x")
    sm.delete_secret(SecretId="scheduled")

    server.restart(kill9=True)

    iam = server.client("iam")
    again = iam.get_role(RoleName="kept")["Role"]
    assert (again["Arn"], again["RoleId"], again["CreateDate"]) == (role["Arn"], role["RoleId"], role["CreateDate"])
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="kept")["AttachedPolicies"]] == POLICIES
    sm = server.client("secretsmanager")
    assert sm.get_secret_value(SecretId="kept")["SecretString"] == "kept-value-2-zq7731"
    assert sm.get_secret_value(SecretId="kept", VersionStage="AWSPREVIOUS")["SecretString"] == "first"
    assert "DeletedDate" in sm.describe_secret(SecretId="scheduled")
    # The role still serves a channel after the restart.
    ml = medialive(server)
    a = ml.create_input(Name="a", Type="RTP_PUSH")["Input"]["Id"]
    b = ml.create_input(Name="b", Type="RTP_PUSH")["Input"]["Id"]
    ml.create_channel(**channel_config("after", a, b, role["Arn"]))
    # The secret's value is not in the server's log.
    assert "zq7731" not in server.log_path.read_text(errors="replace")


def test_a_channel_s_role_arn_must_name_a_role(server, tmp_path):
    ml = medialive(server)
    a = ml.create_input(Name="a", Type="RTP_PUSH")["Input"]["Id"]
    b = ml.create_input(Name="b", Type="RTP_PUSH")["Input"]["Id"]
    made_up = f"arn:aws:iam::{account_of(server)}:role/NoSuchRole"
    with pytest.raises(ml.exceptions.UnprocessableEntityException) as e:
        ml.create_channel(**channel_config("x", a, b, made_up))
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 422
    assert [v["ElementPath"] for v in err["ValidationErrors"]] == ["roleArn"], err
    assert made_up in err["Error"]["Message"] and err["Error"]["Message"].startswith("roleArn: ")
    # Nothing was attached by the refused request.
    assert ml.describe_input(InputId=a)["State"] == "DETACHED"

    # The CLI says the same and exits 255.
    cfg = tmp_path / "channel.json"
    cfg.write_text(json.dumps(channel_config("x", a, b, made_up)))
    p = cli(server, "medialive", "create-channel", "--cli-input-json", f"file://{cfg}")
    assert p.returncode == 255 and "(UnprocessableEntityException)" in p.stderr and "roleArn" in p.stderr, p.stderr

    # With the role created, and with no RoleArn at all, the channel is created.
    role = medialive_role(server)
    ch = ml.create_channel(**channel_config("x", a, b, role))["Channel"]
    assert ch["RoleArn"] == role
    ml.get_waiter("channel_created").wait(ChannelId=ch["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    c, d = (ml.create_input(Name=n, Type="RTP_PUSH")["Input"]["Id"] for n in "cd")
    cfg = channel_config("no-role", c, d, role)
    del cfg["RoleArn"]
    assert "RoleArn" not in ml.create_channel(**cfg)["Channel"]

    # UpdateChannel checks the RoleArn it is given.
    with pytest.raises(ml.exceptions.UnprocessableEntityException) as e:
        ml.update_channel(ChannelId=ch["Id"], RoleArn=made_up)
    assert [v["ElementPath"] for v in e.value.response["ValidationErrors"]] == ["roleArn"]
    assert ml.update_channel(ChannelId=ch["Id"], Name="renamed")["Channel"]["RoleArn"] == role
