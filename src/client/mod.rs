//! The MCP client side: the sampling handler that answers a server's `sampling/createMessage`
//! with an LLM backend under the client's sampling policy (with an optional audit log),
//! connections to a server over Streamable HTTP or stdio, and tool calls (`process_log_entry`
//! or any other).

mod audit;
mod connect;
mod model_choice;
mod policy;
mod sampler;
mod sampling;
mod tool_call;

pub use audit::AuditLog;
pub use connect::{ClientSession, ProtocolChoice, ServerTarget, connect};
pub use model_choice::ModelChoice;
pub use policy::{DEFAULT_MAX_SAMPLING_TOKENS, SamplingPolicy};
pub use sampler::SamplerPool;
pub use sampling::{
    CLIENT_NAME, SamplingHandler, SamplingRules, completion_request_from, sampling_result_from,
};
pub use tool_call::{
    ToolOutcome, call_tool, local_sampling_failure, process_log_entries, process_log_entry,
    process_log_entry_with_meta,
};
