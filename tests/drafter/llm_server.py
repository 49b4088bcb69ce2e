"""A real local HTTP server that speaks the OpenAI chat-completions protocol and misbehaves on cue.

Tests queue what each next request gets (a text, a status, a stall, a malformed body, an SSE
stream) and read back the requests it received. Nothing is mocked inside the client: the openai
SDK, httpx and LangChain all run for real against it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass
class Script:
    queue: deque[tuple[Any, ...]] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    default: tuple[Any, ...] = ("status", 500)

    def push(self, *behaviours: tuple[Any, ...]) -> None:
        self.queue.extend(behaviours)


def _completion(text: str, model: str) -> dict[str, Any]:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": max(1, len(text) // 2),
                      "total_tokens": 120 + max(1, len(text) // 2)}}


def make_app(script: Script) -> Starlette:
    async def chat(request: Request) -> Response:
        body = await request.json()
        script.requests.append({"body": body, "headers": dict(request.headers)})
        b = script.queue.popleft() if script.queue else script.default
        kind = b[0]
        model = body.get("model", "test-model")
        if kind == "sleep":
            await asyncio.sleep(b[1])
            b = b[2] if len(b) > 2 else ("text", "亲，稍等")
            kind = b[0]
        if kind == "status":
            headers = {"Retry-After": str(b[2])} if len(b) > 2 else {}
            return JSONResponse({"error": {"message": f"status {b[1]}", "type": "server_error"}}, status_code=b[1],
                                headers=headers)
        if kind == "malformed":
            return Response(b'{"choices": [', media_type="application/json")
        if kind == "empty":
            return JSONResponse(_completion("", model))
        if kind == "text" and body.get("stream"):
            return StreamingResponse(_sse(b[1], model, body), media_type="text/event-stream")
        if kind == "text":
            return JSONResponse(_completion(b[1], model))
        raise AssertionError(f"unknown behaviour {b!r}")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


async def _sse(text: str, model: str, body: dict[str, Any]) -> AsyncIterator[bytes]:
    pieces = [text[i:i + 4] for i in range(0, len(text), 4)]
    for p in pieces:
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": model,
                 "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()
        await asyncio.sleep(0.005)
    end = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": model,
           "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    yield f"data: {json.dumps(end)}\n\n".encode()
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": model, "choices": [],
                 "usage": {"prompt_tokens": 120, "completion_tokens": len(pieces), "total_tokens": 120 + len(pieces)}}
        yield f"data: {json.dumps(usage)}\n\n".encode()
    yield b"data: [DONE]\n\n"


@contextmanager
def serve_script() -> Iterator[tuple[str, Script]]:
    """(base_url, script) of a server on a free loopback port, stopped afterwards."""
    script = Script()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(make_app(script), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1", script
    finally:
        server.should_exit = True
        thread.join(timeout=5)
