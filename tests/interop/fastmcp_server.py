#!/usr/bin/env python3
"""FastMCP server peer (official Python SDK, classic 1.x API) that behaves like log-archiver's seed.

    fastmcp_server.py [--port PORT] [--report PATH] [--standalone-stream]

Serves Streamable HTTP at http://127.0.0.1:PORT/mcp. Tool `process_log_entry` asks the client for an
explanation through sampling and appends an incident record to the report file. By default the
sampling request is tied to the tool call, so it travels on that call's POST response stream; with
--standalone-stream it is not, so the SDK sends it on the client's standalone GET stream instead
(the tool fails if the client has no GET stream open, where the bare SDK would hang).
Logs go to stderr; nothing is printed on stdout.
"""

import argparse
import sys

import anyio
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.streamable_http import GET_STREAM_KEY
from mcp.types import SamplingMessage, TextContent

mcp = FastMCP("Log-Archiver")
options = argparse.Namespace(report="incident_report.txt", standalone_stream=False)


async def require_get_stream(ctx: Context) -> None:
    """Fail, rather than hang, when the client has no standalone GET stream open: the SDK silently
    drops a request meant for that stream. Waits briefly in case the GET is still being set up."""
    session_id = ctx.request_context.request.headers.get("mcp-session-id")
    transport = mcp.session_manager._server_instances[session_id]
    with anyio.move_on_after(2):
        while GET_STREAM_KEY not in transport._request_streams:
            await anyio.sleep(0.05)
        return
    raise RuntimeError("client has no standalone GET stream open to receive the sampling request")


@mcp.tool()
async def process_log_entry(log_line: str, ctx: Context) -> str:
    prompt = f"You are a Site Reliability Engineer. Explain this log error in one concise sentence: {log_line}"
    if options.standalone_stream:
        await require_get_stream(ctx)
    result = await ctx.session.create_message(
        messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
        max_tokens=100,
        related_request_id=None if options.standalone_stream else ctx.request_id,
    )
    explanation = result.content.text if isinstance(result.content, TextContent) else str(result.content)
    with open(options.report, "a", encoding="utf-8", newline="") as report:
        report.write(f"--- INCIDENT REPORT ---\nRAW: {log_line}\nANALYSIS: {explanation}\n{'-' * 30}\n")
    return "Success: Log analyzed and appended to 'incident_report.txt'."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--report", default="incident_report.txt")
    parser.add_argument("--standalone-stream", action="store_true")
    parser.parse_args(namespace=options)
    mcp.settings.host = "127.0.0.1"
    mcp.settings.port = options.port
    # uvicorn writes its access log to stdout; keep stdout clean by sending it to stderr.
    sys.stdout = sys.stderr
    mcp.run(transport="streamable-http")


if __name__ == "__main__":
    main()
