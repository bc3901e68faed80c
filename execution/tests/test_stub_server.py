"""The Anthropic API stub itself: what the tests and benchmarks rely on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import pytest
from anthropic.types import TextBlock
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming
from anthropic.types.messages import MessageBatch
from anthropic.types.messages.batch_create_params import Request
from django.conf import settings

from execution.llm.offline import OfflineResponder
from execution.llm.stub_server import StubServer

ATOM_PROMPT = "Masterplan: m\nAtom: a1\nFile: pkg/a1.py\nLanguage: python\n\nWrite it."


@pytest.fixture
def stub():
    server = StubServer(OfflineResponder(settings.MGE_OFFLINE_RESPONSES_DIR)).start()
    yield server
    server.stop()


def post(url: str, body: Mapping[str, Any]) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), dict(error.headers)


MESSAGE: MessageCreateParamsNonStreaming = {
    "model": "claude-haiku-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": ATOM_PROMPT}],
}


def test_a_message_gets_the_atoms_code_and_usage(stub):
    status, body, headers = post(f"{stub.url}/v1/messages", MESSAGE)
    assert status == 200
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["content"][0]["text"].startswith("```python\n")
    assert body["usage"]["input_tokens"] > 0 and body["usage"]["output_tokens"] > 0
    assert headers["request-id"].startswith("req_")
    assert stub.stats.calls_by_atom == {"a1": 1}


def test_over_capacity_requests_get_429_with_retry_after_at_once(stub):
    stub.configure(capacity=2, latency_ms=300)
    with ThreadPoolExecutor(6) as pool:
        started = time.monotonic()
        results = list(pool.map(lambda _: post(f"{stub.url}/v1/messages", MESSAGE), range(6)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(200) >= 2 and statuses.count(429) >= 1
    refused = next(headers for status, _, headers in results if status == 429)
    assert refused["retry-after"] == "1"
    assert stub.stats.max_in_flight <= 2
    assert time.monotonic() - started < 2  # refusals do not wait for a slot


def test_malformed_requests_are_400_like_the_real_api(stub):
    status, body, _ = post(f"{stub.url}/v1/messages", {"messages": []})
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"


def test_config_and_stats_over_http(stub):
    status, config, _ = post(f"{stub.url}/_stub/config", {"scheduled_statuses": [529]})
    assert status == 200 and config["scheduled_statuses"] == [529]
    assert post(f"{stub.url}/v1/messages", MESSAGE)[0] == 529
    with urllib.request.urlopen(f"{stub.url}/_stub/stats") as response:
        stats = json.load(response)
    assert stats["by_status"] == {"529": 1}
    assert post(f"{stub.url}/_stub/config", {"nonsense": 1})[0] == 400


def test_mge_llm_stub_serves_the_real_sdk_as_a_process(tmp_path):
    port = 18765 + os.getpid() % 1000
    process = subprocess.Popen(
        [sys.executable, "manage.py", "mge", "llm-stub", "--port", str(port), "--schedule", "529"],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None  # stdout=PIPE
        assert f"127.0.0.1:{port}" in process.stdout.readline()
        client = anthropic.Anthropic(
            api_key="test", base_url=f"http://127.0.0.1:{port}", max_retries=2
        )
        message = client.messages.create(**MESSAGE)
        assert message.usage.output_tokens > 0
        assert isinstance(message.content[0], TextBlock)
        assert "def a1" in message.content[0].text
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_until_ended(client: anthropic.Anthropic, batch_id: str) -> MessageBatch:
    deadline = time.monotonic() + 10
    batch = client.messages.batches.retrieve(batch_id)
    while batch.processing_status != "ended" and time.monotonic() < deadline:
        time.sleep(0.05)
        batch = client.messages.batches.retrieve(batch_id)
    return batch


def batch_item(custom_id: str, atom: str) -> Request:
    prompt = ATOM_PROMPT.replace("a1", atom)
    return {"custom_id": custom_id, "params": {**MESSAGE, "messages": [
        {"role": "user", "content": prompt}]}}  # fmt: skip


def test_a_message_batch_runs_through_the_real_sdk(stub):
    stub.configure(batch_processing_seconds=0.1)
    client = anthropic.Anthropic(api_key="test", base_url=stub.url, max_retries=0)
    created = client.messages.batches.create(
        requests=[batch_item("first", "a1"), batch_item("second", "a2")]
    )
    assert created.id.startswith("msgbatch_") and created.processing_status == "in_progress"
    assert created.request_counts.processing == 2 and created.results_url is None
    assert stub.stats.billed == []  # nothing is billed before the batch ends

    ended = wait_until_ended(client, created.id)
    assert ended.processing_status == "ended" and ended.request_counts.succeeded == 2
    assert ended.results_url == f"{stub.url}/v1/messages/batches/{created.id}/results"
    results = {line.custom_id: line.result for line in client.messages.batches.results(created.id)}
    first = results["first"]
    assert first.type == "succeeded" and isinstance(first.message.content[0], TextBlock)
    assert "def a1" in first.message.content[0].text
    assert first.message.usage.output_tokens > 0
    assert stub.stats.batch_sizes == [2] and stub.stats.requests == 0  # no /v1/messages
    assert [bill.batch for bill in stub.stats.billed] == [True, True]
    assert stub.stats.answers_by_atom == {"a1": 1, "a2": 1}


def test_chosen_batch_items_come_back_errored_or_expired(stub):
    stub.configure(batch_processing_seconds=0, batch_item_failures={
        "Atom: a2": "errored", "Atom: a3": "expired"})  # fmt: skip
    client = anthropic.Anthropic(api_key="test", base_url=stub.url, max_retries=0)
    created = client.messages.batches.create(
        requests=[batch_item(f"r{n}", f"a{n}") for n in (1, 2, 3)]
    )
    ended = wait_until_ended(client, created.id)
    counts = ended.request_counts
    assert (counts.succeeded, counts.errored, counts.expired) == (1, 1, 1)
    results = {line.custom_id: line.result for line in client.messages.batches.results(created.id)}
    assert results["r1"].type == "succeeded" and results["r3"].type == "expired"
    errored = results["r2"]
    assert errored.type == "errored" and errored.error.error.type == "invalid_request_error"
    assert len(stub.stats.billed) == 1  # only the answer is billed


def test_a_canceled_batch_bills_nothing_and_a_refused_create_is_an_api_error(stub):
    stub.configure(batch_processing_seconds=60)
    client = anthropic.Anthropic(api_key="test", base_url=stub.url, max_retries=0)
    created = client.messages.batches.create(requests=[batch_item("only", "a1")])
    canceled = client.messages.batches.cancel(created.id)
    assert canceled.processing_status == "ended" and canceled.request_counts.canceled == 1
    assert [line.result.type for line in client.messages.batches.results(created.id)] == [
        "canceled"
    ]
    assert stub.stats.billed == [] and stub.stats.batches_canceled == 1

    stub.configure(batch_create_status=500)
    with pytest.raises(anthropic.InternalServerError):
        client.messages.batches.create(requests=[batch_item("only", "a1")])
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve("msgbatch_unknown")
