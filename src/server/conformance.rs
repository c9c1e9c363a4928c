//! Fixture tools for the official MCP conformance suite (`@modelcontextprotocol/conformance`),
//! served only with `serve --conformance-fixtures`, never in the default tool list.
//! `test_sampling` sends the given prompt to the client's LLM and returns its answer.

// Sampling is deprecated in the newest protocol revision but is what classic clients speak.
#![allow(deprecated)]

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, CreateMessageRequestParams, Role, SamplingMessage,
    SamplingMessageContentBlock,
};
use rmcp::{ErrorData, Peer, RoleServer, tool, tool_router};

use super::tool::{LogArchiverServer, answer_text, ask_client};

/// The arguments of `test_sampling`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct TestSamplingArgs {
    /// The prompt to send to the client's LLM.
    pub prompt: String,
}

/// `maxTokens` of the fixture's sampling request, as the suite's scenario expects.
const FIXTURE_MAX_TOKENS: u32 = 100;

#[tool_router(router = conformance_router, vis = "pub(super)")]
impl LogArchiverServer {
    #[tool(
        name = "test_sampling",
        description = "Conformance fixture: send the prompt to the client's LLM (MCP sampling) \
                       and return its answer."
    )]
    async fn test_sampling(
        &self,
        Parameters(args): Parameters<TestSamplingArgs>,
        peer: Peer<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let message =
            SamplingMessage::new(Role::User, SamplingMessageContentBlock::text(args.prompt));
        let params = CreateMessageRequestParams::new(vec![message], FIXTURE_MAX_TOKENS);
        Ok(
            match ask_client(&peer, params, self.settings().sampling_timeout).await {
                Ok(result) => CallToolResult::success(vec![ContentBlock::text(format!(
                    "LLM response: {}",
                    answer_text(result.message)
                ))]),
                Err(failure) => CallToolResult::error(vec![ContentBlock::text(failure.message)]),
            },
        )
    }
}

impl LogArchiverServer {
    /// Also serves the conformance suite's fixture tools.
    pub fn with_conformance_fixtures(mut self) -> Self {
        let fixtures = Self::conformance_router();
        self.tool_router_mut().merge(fixtures);
        self
    }
}
