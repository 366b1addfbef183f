"""SNS through the real aws CLI and boto3, delivering to a real HTTP endpoint.

A subscriber is a Python http.server on 127.0.0.1 (a thread of the test)
that records every POST it receives. The handshake is AWS's: Subscribe
sends a SubscriptionConfirmation, the subscriber GETs its SubscribeURL
(unsigned, pointing at onair itself), then every Publish POSTs a
Notification; Unsubscribe sends an UnsubscribeConfirmation. Topics and
confirmed subscriptions survive `kill -9`.
"""

import http.server
import json
import queue
import re
import threading
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from conftest import REGION

NS = "{http://sns.amazonaws.com/doc/2010-03-31/}"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


class Subscriber:
    """An HTTP endpoint on loopback; `next()` returns the next POST as
    (headers with lowercase names, parsed JSON body or raw text)."""

    def __init__(self, path="/hook"):
        self.received = queue.Queue()
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n).decode()
                received.put(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def next_raw(self, timeout=15):
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.url} received nothing within {timeout} s") from None

    def next(self, timeout=15):
        headers, body = self.next_raw(timeout)
        return headers, json.loads(body)

    def nothing_within(self, seconds):
        try:
            got = self.received.get(timeout=seconds)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected delivery: {got!r}")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def subscriber():
    s = Subscriber()
    try:
        yield s
    finally:
        s.close()


def get(url):
    """A plain GET, as a subscriber following a link does: (status, XML root)."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, ET.fromstring(resp.read())


def confirm(subscriber, topic_arn):
    """Receives the SubscriptionConfirmation and follows its SubscribeURL;
    returns the confirmed subscription's ARN."""
    headers, doc = subscriber.next()
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert doc["Type"] == "SubscriptionConfirmation"
    assert doc["TopicArn"] == topic_arn
    status, root = get(doc["SubscribeURL"])
    assert status == 200
    assert root.tag == f"{NS}ConfirmSubscriptionResponse"
    return root.find(f"{NS}ConfirmSubscriptionResult/{NS}SubscriptionArn").text


def test_subscribe_confirm_publish_unsubscribe(server, subscriber):
    sns = server.client("sns")
    topic = server.aws("sns", "create-topic", "--name", "onair-alarms")["TopicArn"]
    assert re.fullmatch(rf"arn:aws:sns:{REGION}:\d{{12}}:onair-alarms", topic)
    # Creating it again returns the same topic.
    assert sns.create_topic(Name="onair-alarms")["TopicArn"] == topic
    assert server.aws("sns", "list-topics")["Topics"] == [{"TopicArn": topic}]

    pending = server.aws("sns", "subscribe", "--topic-arn", topic, "--protocol", "http",
                         "--notification-endpoint", subscriber.url)
    assert pending == {"SubscriptionArn": "pending confirmation"}

    # The SubscriptionConfirmation: headers and every member.
    headers, doc = subscriber.next()
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert headers["x-amz-sns-topic-arn"] == topic
    assert headers["x-amz-sns-message-id"] == doc["MessageId"]
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert set(doc) == {"Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL", "Timestamp"}
    assert TIMESTAMP.fullmatch(doc["Timestamp"])
    assert doc["SubscribeURL"].startswith(f"{server.endpoint}/?Action=ConfirmSubscription&")
    listed = sns.list_subscriptions()["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == ["PendingConfirmation"]

    # Nothing is delivered before the subscription is confirmed.
    sns.publish(TopicArn=topic, Message="too early")
    subscriber.nothing_within(0.5)

    # The subscriber follows the link: a plain, unsigned GET.
    status, root = get(doc["SubscribeURL"])
    assert status == 200
    sub_arn = root.find(f"{NS}ConfirmSubscriptionResult/{NS}SubscriptionArn").text
    assert sub_arn.startswith(topic + ":")
    assert root.find(f"{NS}ResponseMetadata/{NS}RequestId").text
    for listing in (sns.list_subscriptions(), sns.list_subscriptions_by_topic(TopicArn=topic),
                    server.aws("sns", "list-subscriptions")):
        assert listing["Subscriptions"] == [{
            "SubscriptionArn": sub_arn, "Owner": sub_arn.split(":")[4], "Protocol": "http",
            "Endpoint": subscriber.url, "TopicArn": topic,
        }]
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"]
    assert attrs["PendingConfirmation"] == "false"
    assert attrs["ConfirmationWasAuthenticated"] == "false"
    assert attrs["Endpoint"] == subscriber.url

    # Publish with the CLI: the Notification, its headers and members.
    alarm = json.dumps({"AlarmName": "flow-loss", "NewStateValue": "ALARM", "Note": "<&>\"é\""})
    published = server.aws("sns", "publish", "--topic-arn", topic, "--subject", "ALARM: flow-loss",
                           "--message", alarm)
    headers, doc = subscriber.next()
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-message-id"] == published["MessageId"]
    assert headers["x-amz-sns-topic-arn"] == topic
    assert headers["x-amz-sns-subscription-arn"] == sub_arn
    assert doc["Type"] == "Notification"
    assert doc["MessageId"] == published["MessageId"]
    assert doc["TopicArn"] == topic
    assert doc["Subject"] == "ALARM: flow-loss"
    assert doc["Message"] == alarm
    assert TIMESTAMP.fullmatch(doc["Timestamp"])
    assert doc["UnsubscribeURL"] == f"{server.endpoint}/?Action=Unsubscribe&SubscriptionArn={sub_arn}"
    assert "Signature" not in doc and "SigningCertURL" not in doc

    # Publish with boto3, without a subject.
    message_id = sns.publish(TopicArn=topic, Message="plain words")["MessageId"]
    headers, doc = subscriber.next()
    assert (doc["MessageId"], doc["Message"]) == (message_id, "plain words")
    assert "Subject" not in doc

    # Attributes and tags.
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DisplayName", AttributeValue="Ops alarms")
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attrs["DisplayName"] == "Ops alarms"
    assert (attrs["SubscriptionsConfirmed"], attrs["SubscriptionsPending"]) == ("1", "0")
    sns.tag_resource(ResourceArn=topic, Tags=[{"Key": "team", "Value": "noc"}, {"Key": "env", "Value": "prod"}])
    sns.untag_resource(ResourceArn=topic, TagKeys=["env"])
    assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [{"Key": "team", "Value": "noc"}]

    # Unsubscribe: the endpoint is told, and the listing is empty.
    sns.unsubscribe(SubscriptionArn=sub_arn)
    headers, doc = subscriber.next()
    assert headers["x-amz-sns-message-type"] == "UnsubscribeConfirmation"
    assert doc["Type"] == "UnsubscribeConfirmation"
    assert sns.list_subscriptions()["Subscriptions"] == []
    sns.publish(TopicArn=topic, Message="after unsubscribe")
    subscriber.nothing_within(0.5)

    server.aws("sns", "delete-topic", "--topic-arn", topic)
    assert server.aws("sns", "list-topics")["Topics"] == []
    # Deleting again is not an error, as on AWS.
    sns.delete_topic(TopicArn=topic)


def test_unsubscribe_url_and_raw_delivery(server, subscriber):
    sns = server.client("sns")
    topic = sns.create_topic(Name="raw")["TopicArn"]
    sub_arn = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=subscriber.url,
                            Attributes={"RawMessageDelivery": "true"},
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert sub_arn.startswith(topic + ":")
    assert confirm(subscriber, topic) == sub_arn
    sns.publish(TopicArn=topic, Message="bare text")
    headers, body = subscriber.next_raw()
    assert body == "bare text"
    assert headers["x-amz-sns-rawdelivery"] == "true"

    sns.set_subscription_attributes(SubscriptionArn=sub_arn, AttributeName="RawMessageDelivery",
                                    AttributeValue="false")
    sns.publish(TopicArn=topic, Message="wrapped")
    headers, doc = subscriber.next()
    status, root = get(doc["UnsubscribeURL"])
    assert status == 200 and root.tag == f"{NS}UnsubscribeResponse"
    headers, doc = subscriber.next()
    assert doc["Type"] == "UnsubscribeConfirmation"
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    # Its SubscribeURL restores the subscription.
    status, root = get(doc["SubscribeURL"])
    assert status == 200
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]] == [sub_arn]


def test_errors_are_the_modelled_exceptions(server):
    sns = server.client("sns")
    missing = f"arn:aws:sns:{REGION}:000000000000:missing"
    with pytest.raises(sns.exceptions.NotFoundException) as e:
        sns.get_topic_attributes(TopicArn=missing)
    assert "TopicArn" in str(e.value)
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.publish(TopicArn=missing, Message="hello")
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.subscribe(TopicArn=missing, Protocol="http", Endpoint="http://127.0.0.1:9/")
    with pytest.raises(sns.exceptions.ResourceNotFoundException):
        sns.list_tags_for_resource(ResourceArn=missing)

    topic = sns.create_topic(Name="errors")["TopicArn"]
    for protocol in ("email", "sqs", "lambda"):
        with pytest.raises(sns.exceptions.InvalidParameterException) as e:
            sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint="ops@example.com")
        assert "Protocol: onair delivers to http and https endpoints only" in str(e.value)
    with pytest.raises(sns.exceptions.InvalidParameterException) as e:
        sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="http://127.0.0.1:9/")
    assert "Endpoint" in str(e.value)
    with pytest.raises(sns.exceptions.InvalidParameterException) as e:
        sns.create_topic(Name="orders.fifo", Attributes={"FifoTopic": "true"})
    assert "FIFO" in str(e.value)
    with pytest.raises(sns.exceptions.InvalidParameterException) as e:
        sns.create_topic(Name="has space")
    assert "Name" in str(e.value)
    with pytest.raises(sns.exceptions.InvalidParameterException) as e:
        sns.publish(TopicArn=topic, Message="m", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    assert "MessageAttributes" in str(e.value)
    with pytest.raises(sns.exceptions.InvalidParameterException) as e:
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue="{}")
    assert "AttributeName" in str(e.value)

    # A wrong secret is refused in SNS's XML, which boto3 reads.
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as e:
        server.client("sns", aws_secret_access_key="not-the-secret").list_topics()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    # The CLI prints the modelled code and exits 255.
    p = server.aws_run("sns", "get-topic-attributes", "--topic-arn", missing)
    assert p.returncode == 255
    assert "(NotFound)" in p.stderr and "GetTopicAttributes" in p.stderr
    p = server.aws_run("sns", "list-platform-applications")
    assert p.returncode == 255 and "InvalidAction" in p.stderr


def test_topics_and_subscriptions_survive_kill9(server, subscriber):
    sns = server.client("sns")
    topic = sns.create_topic(Name="durable", Attributes={"DisplayName": "Durable"},
                             Tags=[{"Key": "team", "Value": "noc"}])["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=subscriber.url)
    sub_arn = confirm(subscriber, topic)
    # A second endpoint stays pending across the restart.
    late = Subscriber("/late")
    try:
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=late.url)
        _, pending = late.next()

        server.restart(kill9=True)
        sns = server.client("sns")

        assert sns.list_topics()["Topics"] == [{"TopicArn": topic}]
        assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["DisplayName"] == "Durable"
        assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [{"Key": "team", "Value": "noc"}]
        arns = sorted(s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"])
        assert arns == sorted([sub_arn, "PendingConfirmation"])

        # The confirmed subscription still receives; the pending one's token still confirms.
        message_id = sns.publish(TopicArn=topic, Message="after restart")["MessageId"]
        _, doc = subscriber.next()
        assert (doc["MessageId"], doc["Message"]) == (message_id, "after restart")
        status, _ = get(pending["SubscribeURL"])
        assert status == 200
        sns.publish(TopicArn=topic, Message="to both")
        assert subscriber.next()[1]["Message"] == "to both"
        assert late.next()[1]["Message"] == "to both"
    finally:
        late.close()
