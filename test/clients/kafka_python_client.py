"""kafka-python (Debian's python3-kafka) against a Kafka broker, used the way an application would.

    python3 kafka_python_client.py produce BOOTSTRAP TOPIC FILE
        every line of FILE as one message (acks all, one request in flight); with the
        idempotent producer when the installed kafka-python has one (2.2.0 and later;
        Debian 12 ships 2.0.2, which has none), else with retries off, so that a failed
        request shows up as an error instead of a possible duplicate
    python3 kafka_python_client.py admin BOOTSTRAP TOPIC NEWTOPIC
        the admin client: list topics, create NEWTOPIC (2 partitions), describe the cluster

Prints one JSON object on stdout and exits non-zero if anything failed.
"""
import json
import sys

import kafka
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic


def produce(bootstrap, topic, path):
    idempotent = "enable_idempotence" in KafkaProducer.DEFAULT_CONFIG
    extra = {"enable_idempotence": True} if idempotent else {"retries": 0}
    producer = KafkaProducer(bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=20,
                             max_in_flight_requests_per_connection=1, **extra)
    with open(path, "rb") as f:
        lines = [line.rstrip(b"\n") for line in f if line.strip()]
    futures = [producer.send(topic, value) for value in lines]
    producer.flush()
    partitions = {}
    for fut in futures:
        md = fut.get(timeout=60)  # raises the delivery error, if any
        partitions[md.partition] = partitions.get(md.partition, 0) + 1
    producer.close()
    return {"version": kafka.__version__, "idempotent": idempotent, "lines": len(lines),
            "acked": sum(partitions.values()), "partitions": partitions}


def admin(bootstrap, topic, new_topic):
    client = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    before = sorted(client.list_topics())
    response = client.create_topics([NewTopic(new_topic, 2, 1)])
    errors = [code for _, code, *_ in response.topic_errors]
    cluster = client.describe_cluster()
    after = sorted(client.list_topics())
    client.close()
    return {"before": before, "create_errors": errors, "after": after,
            "controller": cluster["controller_id"],
            "brokers": sorted(b["node_id"] for b in cluster["brokers"])}


if __name__ == "__main__":
    mode, bootstrap, topic, arg = sys.argv[1:5]
    try:
        out = produce(bootstrap, topic, arg) if mode == "produce" else admin(bootstrap, topic, arg)
    except Exception as e:  # report any client failure as one line, like the kafkajs client
        print("kafka_python_client %s: %s: %s" % (mode, type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
    print(json.dumps(out))
