"""reference_api.py — the reference pipeline's ingestion API, for bench/bench_http.sh.

FastAPI + pydantic (v1) model of DESIGN §3 with a confluent_kafka producer to the
same dev broker pinpipe uses. Unlike the original (which answers before Kafka has
the pin), every request here waits for its delivery report (flush per request) so
that both sides make the same promise; REF_CONFIRM=0 gives the original
fire-and-forget behaviour for comparison.

Run with Debian's packages (python3-fastapi, python3-uvicorn, python3-confluent-kafka):
    REF_BROKERS=127.0.0.1:9092 /usr/bin/python3 -m uvicorn reference_api:app --workers 1
"""
import json
import os
from typing import List, Optional

from confluent_kafka import Producer
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

TOPIC = os.environ.get("REF_TOPIC", "pinterest.pins")
CONFIRM = os.environ.get("REF_CONFIRM", "1") != "0"

producer = Producer({
    "bootstrap.servers": os.environ.get("REF_BROKERS", "127.0.0.1:9092"),
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
})


class Pin(BaseModel):
    category: str
    index: int
    unique_id: str
    title: str
    description: str
    poster_name: Optional[str] = None
    follower_count: str
    tag_list: str
    is_image_or_video: str
    image_src: str
    downloaded: int
    save_location: str


app = FastAPI()


def send(pins):
    failed = []

    def report(err, msg):
        if err is not None:
            failed.append(err)

    for pin in pins:
        producer.produce(TOPIC, json.dumps(pin.dict()).encode(), key=pin.unique_id.encode(),
                         on_delivery=report)
    if CONFIRM:
        producer.flush(30)
        if failed:
            raise HTTPException(status_code=503, detail="Kafka delivery failed")
    else:
        producer.poll(0)


@app.post("/pin/")
def post_pin(pin: Pin):
    send([pin])
    return pin


@app.post("/pins")
def post_pins(pins: List[Pin]):
    send(pins)
    return {"accepted": len(pins), "rejected": 0, "errors": []}
