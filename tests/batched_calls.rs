//! Batched calls (`process_log_entries`): several lines in one tool call on either protocol
//! revision, each archived or failed on its own and kept in the job's order; jobs batch the
//! entries ready at once and give the same report whatever the batch size; a server that never
//! takes the answers fails each entry once.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::*;
use log_archiver::client::{ProtocolChoice, process_log_entries};
use log_archiver::mock::{Fault, MockSettings};
use log_archiver::pipeline::failures::read_failures;
use log_archiver::protocol::{
    BATCH_META_KEY, BatchPlaces, EntryOrder, EntryOutcome, EntryPlace, SKIP_REQUEST, meta_with,
};
use rmcp::model::{ClientRequest, CustomRequest, RequestMetaObject};

/// The `_meta` placing `count` lines of job `job` at entry numbers 0, 1, 2, ...
fn places(job: &str, count: u64) -> RequestMetaObject {
    let places = BatchPlaces {
        job: job.to_string(),
        source: Some("app.log".into()),
        entries: (0..count)
            .map(|seq| EntryPlace { seq, line: seq + 1 })
            .collect(),
    };
    RequestMetaObject(meta_with(BATCH_META_KEY, &places))
}

#[tokio::test]
async fn each_line_of_a_batch_is_archived_or_fails_on_its_own_on_both_revisions() {
    let (_dir, report) = scratch_report();
    let mut server = ServeProcess::start(&report, &["--max-log-line-bytes", "100"]).await;
    for protocol in [ProtocolChoice::V2026_07_28, ProtocolChoice::V2025_11_25] {
        let job = format!("{protocol:?}");
        let session = server.offline_session(protocol).await;
        let lines = vec![
            format!("ERROR {job} first"),
            format!("ERROR {job} {}", "too long ".repeat(20)),
            format!("ERROR {job} third"),
        ];
        let outcomes = process_log_entries(&session, &lines, places(&job, 3))
            .await
            .unwrap();
        assert_eq!(outcomes[0], EntryOutcome::Archived, "{protocol:?}");
        let EntryOutcome::Failed { detail, .. } = &outcomes[1] else {
            panic!("{protocol:?}: the long line fails: {outcomes:?}");
        };
        assert_eq!(detail.kind, "log_line_too_long", "{protocol:?}");
        assert_eq!(outcomes[2], EntryOutcome::Archived, "{protocol:?}");

        // The third record waits for the second entry, which the job then gives up on.
        let raw = report_raw_lines(&read_report(&report));
        assert_eq!(raw.last(), Some(&lines[0]), "{protocol:?}");
        let skip = serde_json::to_value(EntryOrder {
            job: job.clone(),
            seq: 1,
        })
        .unwrap();
        session
            .send_request(ClientRequest::CustomRequest(CustomRequest::new(
                SKIP_REQUEST,
                Some(skip),
            )))
            .await
            .unwrap();
        let raw = report_raw_lines(&read_report(&report));
        assert_eq!(
            raw[raw.len() - 2..],
            [lines[0].clone(), lines[2].clone()],
            "{protocol:?}"
        );

        // Places that do not match the lines are refused before anything is asked.
        let refused = process_log_entries(&session, &lines, places(&job, 2)).await;
        assert!(refused.is_err(), "{protocol:?}: {refused:?}");
        // No line at all is a tool error (tests/protocol_wire.rs), with no line to fail.
        let nothing = process_log_entries(&session, &[], places(&job, 0)).await;
        assert!(
            nothing.is_ok_and(|outcomes| outcomes.is_empty()),
            "{protocol:?}"
        );
        let malformed = RequestMetaObject(meta_with(BATCH_META_KEY, &"not places"));
        let refused = process_log_entries(&session, &lines, malformed).await;
        assert!(refused.is_err(), "{protocol:?}: {refused:?}");
        session.cancel().await.unwrap();
    }
    server.child.kill().await.expect("serve stops");
    assert_eq!(report_raw_lines(&read_report(&report)).len(), 4);
}

#[tokio::test]
async fn every_batch_size_gives_the_same_report() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 300);
    for (batch, protocol) in [("1", "auto"), ("7", "2026-07-28"), ("256", "2025-11-25")] {
        let report = dir.path().join(format!("batch-{batch}.txt"));
        let mut archive = archive_command(&mock, &log, &report);
        archive.args([
            "--batch",
            batch,
            "--protocol",
            protocol,
            "--concurrency",
            "32",
        ]);
        archive.args(["--dedup", "off", "--rpm", "unlimited"]);
        let finished = finish(archive).await;
        assert_eq!(finished.code, Some(0), "batch {batch}: {}", finished.stderr);
        assert_eq!(
            read_report(&report),
            expected_report(&lines),
            "batch {batch}"
        );
    }
    mock.stop().await;
}

#[tokio::test]
async fn failed_answers_in_batches_fail_only_their_own_entries_on_both_revisions() {
    let mock = start_mock(MockSettings {
        faults: vec!["500:every=3".parse::<Fault>().unwrap()],
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 60);
    for protocol in ["2026-07-28", "2025-11-25"] {
        let report = dir.path().join(format!("{protocol}.txt"));
        let mut archive = archive_command(&mock, &log, &report);
        archive.args([
            "--protocol",
            protocol,
            "--batch",
            "16",
            "--concurrency",
            "8",
        ]);
        archive.args(["--dedup", "off", "--rpm", "unlimited", "--max-retries", "0"]);
        let finished = finish(archive).await;
        assert_eq!(finished.code, Some(2), "{protocol}: {}", finished.stderr);

        let archived = report_raw_lines(&read_report(&report));
        let failed = read_failures(&dir.path().join(format!("{protocol}.txt.failed.csv"))).unwrap();
        // Every third LLM request failed, once each: a third of the entries, each its own kind.
        assert_eq!(failed.len(), 20, "{protocol}: {failed:?}");
        for row in &failed {
            assert_eq!(row.error_kind, "llm_server_error", "{protocol}");
        }
        // Each line is in exactly one of the two, and the report keeps the input order.
        let failed_lines: HashSet<&String> = failed.iter().map(|row| &row.raw).collect();
        let expected: Vec<&String> = lines
            .iter()
            .filter(|line| !failed_lines.contains(line))
            .collect();
        assert_eq!(archived.iter().collect::<Vec<_>>(), expected, "{protocol}");
    }
    mock.stop().await;
}

#[tokio::test]
async fn answers_count_only_with_the_request_state_of_their_own_batch() {
    use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, InputResponses};

    let (_dir, report) = scratch_report();
    let mut server = ServeProcess::start(&report, &[]).await;
    let session = server.offline_session(ProtocolChoice::V2026_07_28).await;
    let call = || {
        let arguments = serde_json::json!({ "log_lines": ["ERROR a", "ERROR b"] });
        CallToolRequestParams::new("process_log_entries")
            .with_arguments(arguments.as_object().cloned().unwrap())
    };
    let complete = |response: CallToolResponse| -> CallToolResult {
        match response {
            CallToolResponse::Complete(result) => result,
            other => panic!("expected a tool result, got {other:?}"),
        }
    };
    let outcome_kinds = |result: &CallToolResult| -> Vec<String> {
        let entries = &result.structured_content.as_ref().unwrap()["entries"];
        entries
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["kind"].as_str().unwrap_or("archived").to_string())
            .collect()
    };

    // The first round asks for one explanation per line, under keys naming the lines.
    let CallToolResponse::InputRequired(asked) = session.call_tool_once(call()).await.unwrap()
    else {
        panic!("expected an input-required result");
    };
    let mut keys: Vec<String> = asked.input_requests.unwrap().into_keys().collect();
    keys.sort();
    assert_eq!(keys, ["explanation/0", "explanation/1"]);
    let state = asked.request_state.expect("a request state");

    let answer = serde_json::json!({
        "role": "assistant",
        "content": {"type": "text", "text": "An explanation."},
        "model": "test"
    });
    let mut one_answer = InputResponses::new();
    one_answer.insert("explanation/1".into(), answer);

    // Answers without the request state are refused, whole.
    let mut stateless = call();
    stateless.input_responses = Some(one_answer.clone());
    let refused = complete(session.call_tool_once(stateless).await.unwrap());
    assert_eq!(
        outcome_kinds(&refused),
        ["sampling_failed", "sampling_failed"]
    );
    assert_eq!(refused.is_error, Some(true));

    // With the state, the answered line is archived and the other fails alone.
    let mut answered = call();
    answered.request_state = Some(state);
    answered.input_responses = Some(one_answer);
    let result = complete(session.call_tool_once(answered).await.unwrap());
    assert_eq!(outcome_kinds(&result), ["sampling_failed", "archived"]);
    assert_eq!(result.is_error, Some(false));
    assert_eq!(report_raw_lines(&read_report(&report)), ["ERROR b"]);
    session.cancel().await.unwrap();
    server.child.kill().await.expect("serve stops");
}

/// A server whose `process_log_entries` asks for every line's explanation on every round, so
/// it never takes an answer: a client must fail the lines, not hang or drop its session.
#[derive(Clone)]
struct AlwaysAsking {
    tool_router: rmcp::handler::server::tool::ToolRouter<Self>,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Lines {
    log_lines: Vec<String>,
}

#[allow(deprecated)]
#[rmcp::tool_router]
impl AlwaysAsking {
    #[rmcp::tool(
        name = "process_log_entries",
        description = "Asks again, whatever it gets."
    )]
    async fn process_log_entries(
        &self,
        rmcp::handler::server::wrapper::Parameters(args): rmcp::handler::server::wrapper::Parameters<Lines>,
    ) -> Result<rmcp::model::CallToolResponse, rmcp::ErrorData> {
        use rmcp::model::{
            CreateMessageRequest, CreateMessageRequestParams, InputRequest, InputRequests,
            InputRequiredResult, Role, SamplingMessage, SamplingMessageContentBlock,
        };
        let requests: InputRequests = (0..args.log_lines.len())
            .map(|index| {
                let message =
                    SamplingMessage::new(Role::User, SamplingMessageContentBlock::text("Explain."));
                let params = CreateMessageRequestParams::new(vec![message], 20);
                let request = InputRequest::CreateMessage(CreateMessageRequest::new(params));
                (log_archiver::protocol::batch_answer_key(index), request)
            })
            .collect();
        Ok(InputRequiredResult::new(Some(requests), Some("again".into())).into())
    }
}

// Sampling and `ServerInfo` are deprecated in the newest revision, which this server speaks.
#[allow(deprecated)]
#[rmcp::tool_handler(router = self.tool_router)]
impl rmcp::ServerHandler for AlwaysAsking {
    fn get_info(&self) -> rmcp::model::ServerInfo {
        rmcp::model::ServerInfo::new(
            rmcp::model::ServerCapabilities::builder()
                .enable_tools()
                .build(),
        )
    }
}

#[tokio::test]
async fn a_server_that_never_takes_the_answers_fails_each_entry_once() {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let server = AlwaysAsking {
        tool_router: AlwaysAsking::tool_router(),
    };
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    let serving = tokio::spawn(async move { axum::serve(listener, router).await });

    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 40);
    let report = dir.path().join("report.txt");
    let mut archive = archive_command(&mock, &log, &report);
    archive.args([
        "--server",
        &url,
        "--protocol",
        "2026-07-28",
        "--batch",
        "16",
    ]);
    // One session: the entries freed by one call go out together in the next.
    archive.args(["--dedup", "off", "--rpm", "unlimited", "--concurrency", "8"]);
    archive.args(["--connections", "1"]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(2), "{}", finished.stderr);

    let failed = read_failures(&dir.path().join("report.txt.failed.csv")).unwrap();
    assert!(
        failed.iter().all(|row| row.error_kind == "mcp_error"),
        "{failed:?}"
    );
    let failed_lines: Vec<&String> = failed.iter().map(|row| &row.raw).collect();
    assert_eq!(
        failed_lines,
        lines.iter().collect::<Vec<_>>(),
        "every entry fails once, in input order"
    );
    // Each line's explanation was asked for (in a batch: the server has no single tool) and
    // answered once, never again.
    assert_eq!(mock.stats().snapshot().requests, 40);
    mock.stop().await;
    serving.abort();
}
