#!/usr/bin/env python3
"""MCP client peer built on the official Python SDK (classic 1.x API), for interoperability tests.

    python_client.py http URL LOG_LINE [LOG_LINE...]
    python_client.py stdio COMMAND [ARGS...] -- LOG_LINE [LOG_LINE...]

Calls the server's `process_log_entry` tool once per LOG_LINE and prints each result's text on its
own line. Sampling requests from the server are answered with Anthropic's Messages API through the
official `anthropic` SDK (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL; model from LOG_ARCHIVER_MODEL).
Exit status: 0 when every call succeeded, 1 when a tool result has isError set, 2 on bad usage.
"""

import asyncio
import os
import sys

from anthropic import AsyncAnthropic
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client

STOP_REASONS = {"end_turn": "endTurn", "max_tokens": "maxTokens", "stop_sequence": "stopSequence"}
_anthropic: AsyncAnthropic | None = None


def to_anthropic_block(block) -> dict:
    if isinstance(block, types.TextContent):
        return {"type": "text", "text": block.text}
    if isinstance(block, types.ImageContent):
        return {"type": "image", "source": {"type": "base64", "media_type": block.mimeType, "data": block.data}}
    raise ValueError(f"unsupported sampling content type: {block.type}")


async def sampling_callback(context, params: types.CreateMessageRequestParams):
    global _anthropic
    try:
        _anthropic = _anthropic or AsyncAnthropic()
        request = {
            "model": os.environ.get("LOG_ARCHIVER_MODEL", "claude-sonnet-4-5"),
            "max_tokens": params.maxTokens,
            "messages": [
                {"role": m.role, "content": [to_anthropic_block(b) for b in m.content_as_list]}
                for m in params.messages
            ],
        }
        if params.systemPrompt:
            request["system"] = params.systemPrompt
        if params.stopSequences:
            request["stop_sequences"] = params.stopSequences
        if params.temperature is not None:
            # anthropic 2.x dropped the `temperature` keyword; send the field in the body as before.
            request["extra_body"] = {"temperature": params.temperature}
        response = await _anthropic.messages.create(**request)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="".join(b.text for b in response.content if b.type == "text")),
            model=response.model,
            stopReason=STOP_REASONS.get(response.stop_reason, response.stop_reason),
        )
    except Exception as exc:
        print(f"sampling failed: {exc!r}", file=sys.stderr)
        return types.ErrorData(code=types.INTERNAL_ERROR, message=f"sampling failed: {exc}")


async def process(read, write, lines: list[str]) -> int:
    status = 0
    async with ClientSession(read, write, sampling_callback=sampling_callback) as session:
        await session.initialize()
        for line in lines:
            result = await session.call_tool("process_log_entry", {"log_line": line})
            print("".join(c.text for c in result.content if isinstance(c, types.TextContent)), flush=True)
            if result.isError:
                status = 1
    return status


async def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "http":
        async with streamablehttp_client(argv[1]) as (read, write, _):
            return await process(read, write, argv[2:])
    if len(argv) >= 4 and argv[0] == "stdio" and "--" in argv[2:-1]:
        split = argv.index("--", 2)
        # The whole environment is passed on, so tests can configure the server through it.
        server = StdioServerParameters(command=argv[1], args=argv[2:split], env=dict(os.environ))
        async with stdio_client(server) as (read, write):
            return await process(read, write, argv[split + 1 :])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
