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
