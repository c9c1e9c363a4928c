//! The client's sampling policy and audit log: a server cannot sample outside the client's own
//! tool calls, `maxTokens` is capped, and every request and answer lands in the audit log.

#![allow(deprecated)]

mod common;

use std::borrow::Cow;
use std::sync::Arc;

use common::{ServeProcess, explain_command, finish, read_audit_log, scratch_report, start_mock};
use log_archiver::client::{
    AuditLog, SamplingHandler, SamplingPolicy, SamplingRules, ServerTarget, connect,
};
use log_archiver::llm::{AnthropicBackend, AnthropicSettings};
use log_archiver::mock::MockSettings;
use rmcp::model::{
    CreateMessageRequestParams, ProtocolVersion, Role, SamplingMessage,
    SamplingMessageContentBlock, ServerCapabilities, ServerInfo,
};
use rmcp::service::NotificationContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServerHandler};
use tokio::sync::mpsc;

/// A server that asks its client for a completion as soon as the session starts, unprompted,
/// and reports what the client answered.
#[derive(Clone)]
struct UnpromptedSampler {
    answers: mpsc::UnboundedSender<Result<String, String>>,
}

impl ServerHandler for UnpromptedSampler {
    fn get_info(&self) -> ServerInfo {
        ServerInfo::new(ServerCapabilities::builder().build())
    }

    /// Server-initiated requests exist only up to 2025-11-25.
    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        Cow::Borrowed(ProtocolVersion::known_up_to(&ProtocolVersion::V_2025_11_25))
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        let answers = self.answers.clone();
        tokio::spawn(async move {
            let message = SamplingMessage::new(
                Role::User,
                SamplingMessageContentBlock::text("Write me a long story."),
            );
            let outcome = context
                .peer
                .create_message(CreateMessageRequestParams::new(vec![message], 4000))
                .await
                .map(|result| format!("{:?}", result.message))
                .map_err(|error| error.to_string());
            let _ = answers.send(outcome);
        });
    }
}

#[tokio::test]
async fn a_server_cannot_sample_outside_the_clients_calls() {
    let (answers, mut answered) = mpsc::unbounded_channel();
    let server = UnpromptedSampler { answers };
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let router = axum::Router::new().nest_service("/mcp", service);
    let http = tokio::spawn(async move { axum::serve(listener, router).await });

    let mock = start_mock(MockSettings::default()).await;
    let backend = AnthropicBackend::new(AnthropicSettings {
        api_key: "test".into(),
        base_url: mock.base_url(),
        model: "mock".into(),
        request_timeout: std::time::Duration::from_secs(30),
        effort: Default::default(),
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let rules = SamplingRules {
        policy: SamplingPolicy::new(100),
        audit: Some(Arc::new(AuditLog::open(&audit_path, url.clone()).unwrap())),
        ..SamplingRules::default()
    };
    let handler = SamplingHandler::new(Arc::new(backend)).with_rules(rules);
    let target = ServerTarget::Http {
        url: url.clone(),
        auth_token: None,
    };
    let session = connect(&target, handler).await.unwrap();

    let outcome = tokio::time::timeout(std::time::Duration::from_secs(30), answered.recv())
        .await
        .expect("the server hears back")
        .expect("the server reports");
    let error = outcome.expect_err("the client refuses");
    assert!(error.contains("sampling refused"), "{error}");
    assert_eq!(
        mock.stats().snapshot().requests,
        0,
        "the LLM was never asked"
    );

    let records = read_audit_log(&audit_path);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["outcome"], "refused");
    assert_eq!(records[0]["server"], url.as_str());
    assert_eq!(records[0]["requested_max_tokens"], 4000);

    let _ = session.cancel().await;
    http.abort();
    mock.stop().await;
}

#[tokio::test]
async fn the_audit_log_records_what_was_sent_and_the_token_cap() {
    let (_dir, report) = scratch_report();
    // The server asks for 5,000 output tokens; the client grants 64.
    let server = ServeProcess::start(&report, &["--max-tokens", "5000"]).await;
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let lines = [
        "sshd[811]: Failed password for root from 10.0.0.7 port 4242 ssh2",
        "kernel: EXT4-fs error (device sda1): ext4_find_entry: reading directory",
    ];
    let mut explain = explain_command(&mock);
    explain
        .args(["--server", &server.url, "--max-sampling-tokens", "64"])
        .arg("--audit-log")
        .arg(&audit_path)
        .args(lines);
    let finished = finish(explain).await;
    assert!(finished.success, "{}", finished.stderr);

    let records = read_audit_log(&audit_path);
    assert_eq!(records.len(), 2, "{records:?}");
    for (record, line) in records.iter().zip(lines) {
        assert_eq!(record["outcome"], "answered");
        assert_eq!(record["server"], server.url.as_str());
        assert_eq!(record["requested_max_tokens"], 5000);
        assert_eq!(record["request"]["max_tokens"], 64);
        let prompt = record["request"]["messages"][0]["text"].as_str().unwrap();
        assert!(prompt.contains(line), "{prompt}");
        assert!(record["request"]["system"].as_str().is_some());
        assert!(!record["answer"]["text"].as_str().unwrap().is_empty());
        assert!(record["answer"]["output_tokens"].as_u64().unwrap() > 0);
        assert!(record["time"].as_str().unwrap().ends_with('Z'));
    }
    mock.stop().await;
}
