//! Fixture tools for the official MCP conformance suite (`@modelcontextprotocol/conformance`),
//! served only with `serve --conformance-fixtures`, never in the default tool list.
//! `test_sampling` sends the given prompt to the client's LLM and returns its answer, on either
//! protocol revision.

// Sampling is deprecated in the newest protocol revision but is what classic clients speak.
#![allow(deprecated)]

use rmcp::handler::server::tool::{InputResponses as ToolInputResponses, RequestState};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, CreateMessageRequestParams, Role,
    SamplingMessage, SamplingMessageContentBlock,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};

use super::sampling::{Answers, Question, answer_text, answers};
use super::tool::LogArchiverServer;

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
        context: RequestContext<RoleServer>,
        RequestState(request_state): RequestState,
        ToolInputResponses(responses): ToolInputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let message =
            SamplingMessage::new(Role::User, SamplingMessageContentBlock::text(args.prompt));
        let params = CreateMessageRequestParams::new(vec![message], FIXTURE_MAX_TOKENS);
        let timeout = self.settings().sampling_timeout;
        let question = Question {
            key: "sampling".to_string(),
            params,
        };
        let answered = answers(&context, request_state, responses, vec![question], timeout).await;
        let reply = match answered {
            Ok(Answers::Needed(input_required)) => return Ok(input_required.into()),
            Ok(Answers::Ready(mut replies)) => replies.pop().expect("one reply per question"),
            Err(failure) => Err(failure),
        };
        Ok(match reply {
            Ok(reply) => CallToolResult::success(vec![ContentBlock::text(format!(
                "LLM response: {}",
                answer_text(reply.result.message)
            ))])
            .into(),
            Err(failure) => CallToolResult::error(vec![ContentBlock::text(failure.message)]).into(),
        })
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
