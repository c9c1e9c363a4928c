// MCP client peer built on the official TypeScript SDK (@modelcontextprotocol/sdk), for
// log-archiver's interoperability test (tests/typescript_interop.rs).
//
//     node client.mjs URL LOG_LINE [LOG_LINE...]
//
// Connects to the server's Streamable HTTP endpoint URL, declaring the sampling capability, and
// calls its `process_log_entry` tool once per LOG_LINE, one call after the other, printing each
// result's text on its own line. Sampling requests from the server are answered with Anthropic's
// Messages API over plain HTTP, mapped the way `log-archiver explain` maps them
// (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL; model from LOG_ARCHIVER_MODEL).
// Exit status: 0 when every call succeeded, 1 when a tool result has isError set or anything
// failed, 2 on bad usage. Installed with setup.sh; Node.js 20 or newer.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ErrorCode,
  McpError,
} from "@modelcontextprotocol/sdk/types.js";

const ANTHROPIC_VERSION = "2023-06-01";
const DEFAULT_MODEL = "claude-sonnet-4-6";
const STOP_REASONS = { end_turn: "endTurn", max_tokens: "maxTokens", stop_sequence: "stopSequence" };
// Longest wait for one tool call (its sampling round trip included) and for one LLM answer.
const CALL_TIMEOUT_MS = 120_000;
const LLM_TIMEOUT_MS = 60_000;

/** The text of a sampling message's content: one block or (newer revisions) a list of blocks. */
function messageText(content) {
  const blocks = Array.isArray(content) ? content : [content];
  return blocks
    .map((block) => {
      if (block?.type !== "text") {
        throw new McpError(ErrorCode.InvalidParams, `unsupported sampling content type: ${block?.type}`);
      }
      return block.text;
    })
    .join("");
}

/** Answers one `sampling/createMessage` request through the Messages API. */
async function sample(request) {
  const params = request.params;
  const apiKey = process.env.ANTHROPIC_API_KEY;
  if (!apiKey) {
    throw new McpError(ErrorCode.InternalError, "sampling failed: ANTHROPIC_API_KEY is not set");
  }
  const base = (process.env.ANTHROPIC_BASE_URL || "https://api.anthropic.com").replace(/\/+$/, "");
  const body = {
    model: process.env.LOG_ARCHIVER_MODEL || DEFAULT_MODEL,
    max_tokens: params.maxTokens,
    messages: params.messages.map((m) => ({ role: m.role, content: messageText(m.content) })),
  };
  if (params.systemPrompt) body.system = params.systemPrompt;
  if (params.stopSequences?.length) body.stop_sequences = params.stopSequences;
  if (params.temperature !== undefined && params.temperature !== null) body.temperature = params.temperature;

  let response;
  try {
    response = await fetch(`${base}/v1/messages`, {
      method: "POST",
      headers: {
        "x-api-key": apiKey,
        "anthropic-version": ANTHROPIC_VERSION,
        "content-type": "application/json",
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(LLM_TIMEOUT_MS),
    });
  } catch (error) {
    throw new McpError(ErrorCode.InternalError, `sampling failed: LLM unreachable: ${error.message}`);
  }
  const text = await response.text();
  if (!response.ok) {
    throw new McpError(ErrorCode.InternalError, `sampling failed: LLM answered ${response.status}: ${text}`);
  }
  const message = JSON.parse(text);
  return {
    role: "assistant",
    content: {
      type: "text",
      text: message.content.filter((b) => b.type === "text").map((b) => b.text).join(""),
    },
    model: message.model,
    stopReason: STOP_REASONS[message.stop_reason] ?? message.stop_reason ?? undefined,
  };
}

async function main(argv) {
  if (argv.length < 2) {
    console.error("usage: node client.mjs URL LOG_LINE [LOG_LINE...]");
    return 2;
  }
  const [url, ...lines] = argv;
  const client = new Client(
    { name: "log-archiver-ts-interop", version: "0.0.0" },
    { capabilities: { sampling: {} } },
  );
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    try {
      return await sample(request);
    } catch (error) {
      console.error(error.message);
      throw error;
    }
  });
  const transport = new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  console.error(`connected: protocol ${transport.protocolVersion ?? "?"}, session ${transport.sessionId ?? "-"}`);
  let status = 0;
  try {
    for (const line of lines) {
      const result = await client.callTool(
        { name: "process_log_entry", arguments: { log_line: line } },
        undefined,
        { timeout: CALL_TIMEOUT_MS },
      );
      console.log(result.content.filter((c) => c.type === "text").map((c) => c.text).join(""));
      if (result.isError) status = 1;
    }
  } finally {
    // Ends the HTTP session (DELETE) and closes the transport.
    await transport.terminateSession().catch(() => {});
    await client.close();
  }
  return status;
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error) => {
    console.error(`ts client failed: ${error?.stack ?? error}`);
    process.exit(1);
  },
);
