//! One whole `process_log_entry` round trip on loopback, the unit of work of `archive` and
//! `explain`: the client's tool call (POST + SSE stream) → the server's sampling request on it →
//! the client's sampling handler → the Anthropic backend → the mock LLM over HTTP (0 ms latency)
//! → the client's answer (another POST) → the server writes the record through the report writer
//! → the tool result.
//!
//! Everything runs in this process on one 2-worker tokio runtime, set up once outside the timed
//! loop: the mock LLM, the Streamable HTTP server with a shared-server report writer on a temp
//! file, and one client session. `llm_hop_only` is the Anthropic backend against the mock alone
//! (to split the round trip; the mock's zero latency is a `tokio::time::sleep(0)`, which waits
//! for the next 1 ms timer tick); `single_call` is the latency of one call with nothing else in
//! flight; `concurrent_64` is 64 calls in flight at once on the same session, in calls/s;
//! `batched_64` is the same 64 lines as four `process_log_entries` calls of 16 in flight at once,
//! in lines/s, which is how `archive` sends entries to the built-in server.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use log_archiver::bench::sample_log_line;
use log_archiver::client::{
    SamplingHandler, ServerTarget, connect, process_log_entries, process_log_entry,
};
use log_archiver::llm::{
    AnthropicBackend, AnthropicSettings, ChatMessage, ChatRole, CompletionRequest, LlmBackend,
};
use log_archiver::mock::{MockLlm, MockSettings};
use log_archiver::protocol::EntryOutcome;
use log_archiver::report::{OrderPolicy, ReportFormat, ReportWriter};
use log_archiver::server::{
    HttpServer, HttpServerSettings, LogArchiverServer, PromptTemplate, SYSTEM_PROMPT, ToolSettings,
};
use tokio::net::TcpListener;

/// Lines in flight at once in the concurrent and batched benchmarks.
const CONCURRENT: usize = 64;
/// Lines per call in the batched benchmark.
const BATCH: usize = 16;

async fn start_server(report: &std::path::Path) -> (HttpServer, ReportWriter) {
    let settings = ToolSettings::default();
    let (writer, _done) = ReportWriter::start(
        report,
        OrderPolicy::shared_server(settings.sampling_timeout),
        ReportFormat::Text,
    )
    .await
    .expect("writer starts");
    let http_settings = HttpServerSettings::loopback(&settings, None);
    let server = LogArchiverServer::new(settings, writer.clone());
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("loopback port");
    (
        HttpServer::start(listener, server, http_settings).expect("server starts"),
        writer,
    )
}

fn mock_backend(mock: &MockLlm) -> Arc<dyn LlmBackend> {
    Arc::new(
        AnthropicBackend::new(AnthropicSettings {
            api_key: "bench".into(),
            base_url: mock.base_url(),
            model: "mock-model".into(),
            request_timeout: Duration::from_secs(30),
            effort: Default::default(),
        })
        .expect("backend builds"),
    )
}

fn bench_round_trip(c: &mut Criterion) {
    let runtime = common::runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("incident_report.txt");
    let (mock, server, writer, session) = runtime.block_on(async {
        let mock = MockLlm::start_on_loopback(MockSettings::default())
            .await
            .expect("mock LLM starts");
        let (server, writer) = start_server(&report).await;
        let target = ServerTarget::Http {
            url: server.url(),
            auth_token: None,
        };
        let session = connect(&target, SamplingHandler::new(mock_backend(&mock)))
            .await
            .expect("session opens");
        (mock, server, writer, Arc::new(session))
    });
    let next_line = AtomicUsize::new(0);
    let backend = mock_backend(&mock);
    let mut llm_requests = 0_u64;

    let mut group = c.benchmark_group("mcp_round_trip");
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    // The LLM hop alone (the Anthropic backend against the mock), to split the round trip.
    group.bench_function("llm_hop_only", |b| {
        b.to_async(&runtime).iter(|| {
            llm_requests += 1;
            let request = CompletionRequest {
                model: None,
                system: Some(SYSTEM_PROMPT.into()),
                messages: vec![ChatMessage {
                    role: ChatRole::User,
                    text: PromptTemplate::default().render(&sample_log_line(0)),
                }],
                max_tokens: 100,
                temperature: None,
                stop_sequences: Vec::new(),
                send_by: None,
            };
            let backend = &backend;
            async move { backend.complete(request).await.expect("mock answers") }
        })
    });
    group.bench_function("single_call", |b| {
        b.to_async(&runtime).iter(|| async {
            let line = sample_log_line(next_line.fetch_add(1, Ordering::Relaxed));
            let outcome = process_log_entry(&session, &line)
                .await
                .expect("call succeeds");
            assert!(!outcome.is_error, "{}", outcome.text);
        })
    });
    group.throughput(Throughput::Elements(CONCURRENT as u64));
    group.bench_function("concurrent_64", |b| {
        b.to_async(&runtime).iter(|| async {
            let first = next_line.fetch_add(CONCURRENT, Ordering::Relaxed);
            let calls: Vec<_> = (first..first + CONCURRENT)
                .map(|i| {
                    let session = session.clone();
                    tokio::spawn(
                        async move { process_log_entry(&session, &sample_log_line(i)).await },
                    )
                })
                .collect();
            for call in calls {
                let outcome = call.await.expect("task").expect("call succeeds");
                assert!(!outcome.is_error, "{}", outcome.text);
            }
        })
    });
    group.bench_function("batched_64", |b| {
        b.to_async(&runtime).iter(|| async {
            let first = next_line.fetch_add(CONCURRENT, Ordering::Relaxed);
            let lines: Vec<String> = (first..first + CONCURRENT).map(sample_log_line).collect();
            let calls: Vec<_> = lines
                .chunks(BATCH)
                .map(|batch| {
                    let (session, batch) = (session.clone(), batch.to_vec());
                    tokio::spawn(async move {
                        process_log_entries(&session, &batch, Default::default()).await
                    })
                })
                .collect();
            for call in calls {
                let outcomes = call.await.expect("task").expect("call succeeds");
                assert!(
                    outcomes
                        .iter()
                        .all(|outcome| *outcome == EntryOutcome::Archived)
                );
            }
        })
    });
    group.finish();

    let calls = next_line.load(Ordering::Relaxed) as u64; // one line each
    runtime.block_on(async {
        let requests = mock.stats().snapshot().requests;
        assert_eq!(requests, calls + llm_requests, "one LLM request per line");
        Arc::into_inner(session)
            .expect("no call in flight")
            .cancel()
            .await
            .expect("session closes");
        server.stop().await.expect("server stops");
        writer.stop();
        mock.stop().await;
    });
    println!(
        "{calls} calls, report {} bytes",
        std::fs::metadata(&report).map_or(0, |m| m.len())
    );
}

criterion_group!(benches, bench_round_trip);
criterion_main!(benches);
