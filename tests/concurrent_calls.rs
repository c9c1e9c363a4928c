//! Many clients at once against one in-process server over loopback HTTP: every record whole,
//! none interleaved; a client that never answers sampling times out without wedging the server.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use log_archiver::client::{
    ProtocolChoice, SamplingHandler, ServerTarget, connect, process_log_entry,
};
use log_archiver::llm::{
    AnthropicBackend, AnthropicSettings, CompletionFuture, CompletionRequest, LlmBackend,
};
use log_archiver::mock::{MockLlm, MockSettings};
use log_archiver::report::{OrderPolicy, ReportFormat, ReportWriter};
use log_archiver::server::{HttpServer, HttpServerSettings, LogArchiverServer, ToolSettings};
use tokio::net::TcpListener;

async fn start_server(
    report: &std::path::Path,
    settings: ToolSettings,
) -> (HttpServer, ReportWriter) {
    let (writer, _done) = ReportWriter::start(
        report,
        OrderPolicy::shared_server(settings.sampling_timeout),
        ReportFormat::Text,
    )
    .await
    .unwrap();
    let http_settings = HttpServerSettings::loopback(&settings, None);
    let server = LogArchiverServer::new(settings, writer.clone());
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    (
        HttpServer::start(listener, server, http_settings).unwrap(),
        writer,
    )
}

fn mock_backend(mock: &MockLlm) -> Arc<dyn LlmBackend> {
    Arc::new(
        AnthropicBackend::new(AnthropicSettings {
            api_key: "test".into(),
            base_url: mock.base_url(),
            model: "mock-model".into(),
            request_timeout: Duration::from_secs(30),
            effort: Default::default(),
        })
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_calls_give_two_hundred_whole_records() {
    let mock = start_mock(MockSettings {
        latency: Duration::from_millis(5),
        latency_spread: Duration::from_millis(20),
        ..MockSettings::default()
    })
    .await;
    let (_dir, report) = scratch_report();
    let (server, writer) = start_server(&report, ToolSettings::default()).await;
    let target = ServerTarget::Http {
        url: server.url(),
        auth_token: None,
    };
    let mut sessions = Vec::new();
    for _ in 0..4 {
        let handler = SamplingHandler::new(mock_backend(&mock));
        sessions.push(Arc::new(connect(&target, handler).await.unwrap()));
    }
    let lines: Vec<String> = (0..200)
        .map(|i| {
            format!(
                "2026-11-29T10:00:{:02} ERROR worker-{i} request {i} failed",
                i % 60
            )
        })
        .collect();
    let calls: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let session = sessions[i % sessions.len()].clone();
            let line = line.clone();
            tokio::spawn(async move { process_log_entry(&session, &line).await })
        })
        .collect();
    for call in calls {
        let outcome = call.await.unwrap().unwrap();
        assert!(!outcome.is_error, "{}", outcome.text);
    }
    assert!(
        mock.stats().snapshot().max_in_flight > 1,
        "calls were not concurrent"
    );
    for session in sessions {
        Arc::into_inner(session).unwrap().cancel().await.unwrap();
    }
    server.stop().await.unwrap();
    writer.stop();

    let text = read_report(&report);
    let records: Vec<&str> = text
        .split_inclusive("------------------------------\n")
        .collect();
    assert_eq!(records.len(), 200);
    let mut seen: Vec<&str> = records.clone();
    seen.sort_unstable();
    let mut expected: Vec<String> = lines.iter().map(|line| expected_record(line)).collect();
    expected.sort_unstable();
    assert_eq!(seen, expected);
    mock.stop().await;
}

/// A backend that takes longer than any test is willing to wait.
struct StalledBackend;

impl LlmBackend for StalledBackend {
    fn complete(&self, _request: CompletionRequest) -> CompletionFuture<'_> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            unreachable!("the server gives up first")
        })
    }
}

#[tokio::test]
async fn sampling_timeout_gives_a_tool_error_and_the_server_keeps_serving() {
    let mock = start_mock(MockSettings::default()).await;
    let (_dir, report) = scratch_report();
    let settings = ToolSettings {
        sampling_timeout: Duration::from_secs(1),
        ..ToolSettings::default()
    };
    let (server, writer) = start_server(&report, settings).await;
    let target = ServerTarget::Http {
        url: server.url(),
        auth_token: None,
    };

    // The server waits for the answer only on the classic revision; on 2026-07-28 the client
    // answers between two calls and bounds the wait itself.
    let classic =
        SamplingHandler::new(Arc::new(StalledBackend)).with_protocol(ProtocolChoice::V2025_11_25);
    let stalled = connect(&target, classic).await.unwrap();
    let outcome = process_log_entry(&stalled, "ERROR slow").await.unwrap();
    assert!(outcome.is_error);
    assert!(
        outcome
            .text
            .contains("did not answer the sampling request within 1 s"),
        "{}",
        outcome.text
    );

    let healthy = connect(&target, SamplingHandler::new(mock_backend(&mock)))
        .await
        .unwrap();
    let outcome = process_log_entry(&healthy, "ERROR fast").await.unwrap();
    assert!(!outcome.is_error, "{}", outcome.text);

    stalled.cancel().await.unwrap();
    healthy.cancel().await.unwrap();
    server.stop().await.unwrap();
    writer.stop();
    assert_eq!(read_report(&report), expected_record("ERROR fast"));
    mock.stop().await;
}
