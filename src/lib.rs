//! log-archiver: explain and archive log files with an LLM through the Model Context Protocol.
//!
//! The MCP server (`server`) borrows the client's LLM through sampling and hands each explained
//! entry to the report writer (`report`). The client (`client`) answers sampling requests with an
//! LLM backend (`llm`). `pipeline` pushes whole files through both in bulk. `mock` is a fake LLM
//! API for tests, demos and benchmarks, and `bench` measures throughput with it; `redact` masks secrets in log lines before they reach a
//! third-party LLM; `cli` wires the commands together.

pub mod bench;
pub mod cli;
pub mod client;
pub mod dedup;
mod files;
pub mod llm;
pub mod mock;
pub mod pipeline;
pub mod protocol;
pub mod redact;
pub mod report;
pub mod server;
