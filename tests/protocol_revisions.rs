//! Both MCP protocol revisions: on 2026-07-28 the tool asks for sampling with an input-required
//! result that our client answers before calling again; on 2025-11-25 it sends the sampling
//! request from inside the call. Our client negotiates the newest revision both sides speak and
//! falls back for older servers; one server serves both kinds of clients at once.

mod common;

use common::*;
use log_archiver::mock::{Fault, MockSettings};
use log_archiver::pipeline::failures::read_failures;

/// `log-archiver explain --protocol PROTOCOL --server URL LINE`.
async fn explain(
    mock: &log_archiver::mock::MockLlm,
    url: &str,
    protocol: &str,
    line: &str,
) -> Finished {
    let mut explain = explain_command(mock);
    explain.args(["--protocol", protocol, "--server", url, line]);
    finish(explain).await
}

#[tokio::test]
async fn the_embedded_server_gives_the_same_report_on_both_revisions() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 200);
    for protocol in ["2026-07-28", "2025-11-25"] {
        let report = dir.path().join(format!("{protocol}.txt"));
        let mut archive = archive_command(&mock, &log, &report);
        archive.args([
            "--protocol",
            protocol,
            "--rpm",
            "unlimited",
            "--dedup",
            "off",
        ]);
        let finished = finish(archive).await;
        assert_eq!(finished.code, Some(0), "{protocol}: {}", finished.stderr);
        assert_eq!(read_report(&report), expected_report(&lines), "{protocol}");
    }
    mock.stop().await;
}

#[tokio::test]
async fn one_server_serves_both_revisions_at_once() {
    let mock = start_mock(MockSettings::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("shared.txt");
    let mut server = ServeProcess::start(&report, &[]).await;
    let logs: Vec<(String, Vec<String>)> = ["2026-07-28", "2025-11-25"]
        .iter()
        .map(|protocol| {
            let log = dir.path().join(format!("{protocol}.log"));
            let lines = write_log(&log, 150)
                .into_iter()
                .map(|line| format!("{line} via {protocol}"))
                .collect::<Vec<_>>();
            std::fs::write(&log, lines.join("\n") + "\n").unwrap();
            (protocol.to_string(), lines)
        })
        .collect();
    let jobs = logs.iter().map(|(protocol, _)| {
        let mut archive = job_command(&mock, "archive");
        archive
            .arg(dir.path().join(format!("{protocol}.log")))
            .args([
                "--server",
                &server.url,
                "--protocol",
                protocol,
                "--rpm",
                "unlimited",
            ])
            .args(["--report"])
            .arg(dir.path().join(format!("{protocol}.unused")));
        finish(archive)
    });
    let (jobs, single) = tokio::join!(
        futures::future::join_all(jobs),
        explain(&mock, &server.url, "auto", "ERROR a single line via auto")
    );
    for ((protocol, _), finished) in logs.iter().zip(&jobs) {
        assert_eq!(finished.code, Some(0), "{protocol}: {}", finished.stderr);
    }
    assert!(single.success, "{}", single.stderr);
    assert!(
        single.stderr.contains("protocol 2026-07-28"),
        "auto takes the newest revision: {}",
        single.stderr
    );
    server.child.kill().await.expect("serve stops");

    let written = report_raw_lines(&read_report(&report));
    for (protocol, lines) in &logs {
        let from_job: Vec<&String> = written
            .iter()
            .filter(|line| line.ends_with(protocol.as_str()))
            .collect();
        assert_eq!(
            from_job,
            lines.iter().collect::<Vec<_>>(),
            "{protocol}: every line once, in input order"
        );
    }
    assert!(written.contains(&"ERROR a single line via auto".to_string()));
    assert_eq!(written.len(), 301);
    mock.stop().await;
}

#[tokio::test]
async fn auto_falls_back_to_the_classic_handshake() {
    let mock = start_mock(MockSettings::default()).await;
    let (_dir, report) = scratch_report();
    let mut server = ServeProcess::start(&report, &["--max-protocol", "2025-11-25"]).await;
    let auto = explain(&mock, &server.url, "auto", "ERROR auto on a classic server").await;
    assert!(auto.success, "{}", auto.stderr);
    assert!(
        auto.stderr.contains("protocol 2025-11-25"),
        "{}",
        auto.stderr
    );
    let modern_only = explain(&mock, &server.url, "2026-07-28", "ERROR never sent").await;
    assert_eq!(modern_only.code, Some(1));
    assert!(
        modern_only.stderr.contains("cannot open an MCP session"),
        "{}",
        modern_only.stderr
    );
    server.child.kill().await.expect("serve stops");
    assert_eq!(
        report_raw_lines(&read_report(&report)),
        ["ERROR auto on a classic server"]
    );
    mock.stop().await;
}

#[tokio::test]
async fn failed_sampling_is_classified_on_both_revisions() {
    let mock = start_mock(MockSettings {
        faults: vec!["malformed:rate=1".parse::<Fault>().unwrap()],
        ..MockSettings::default()
    })
    .await;
    for (protocol, kinds, report) in
        archive_failing_on_each_revision(&mock, 5, &["--max-retries", "0"], BOTH_REVISIONS).await
    {
        assert_eq!(kinds.len(), 5, "{protocol}");
        for kind in kinds {
            assert!(kind.starts_with("llm_"), "{protocol}: {kind}");
        }
        assert_eq!(report, "");
    }
    mock.stop().await;
}

/// The two protocol revisions our client speaks.
const BOTH_REVISIONS: &[&str] = &["2026-07-28", "2025-11-25"];

/// Archives `lines` generated lines with `extra` options on each of `protocols`, where every
/// entry is expected to fail (exit code 2); returns each revision's failure kinds and report.
async fn archive_failing_on_each_revision(
    mock: &log_archiver::mock::MockLlm,
    lines: usize,
    extra: &[&str],
    protocols: &[&'static str],
) -> Vec<(&'static str, Vec<String>, String)> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    write_log(&log, lines);
    let mut outcomes = Vec::new();
    for &protocol in protocols {
        let report = dir.path().join(format!("{protocol}.txt"));
        let mut archive = archive_command(mock, &log, &report);
        archive
            .args(["--protocol", protocol, "--dedup", "off"])
            .args(extra);
        let finished = finish(archive).await;
        assert_eq!(finished.code, Some(2), "{protocol}: {}", finished.stderr);
        let failures = dir.path().join(format!("{protocol}.txt.failed.csv"));
        let kinds = read_failures(&failures)
            .unwrap()
            .into_iter()
            .map(|row| row.error_kind)
            .collect();
        outcomes.push((protocol, kinds, read_report(&report)));
    }
    outcomes
}

#[tokio::test]
async fn an_answer_is_archived_only_with_the_request_state_of_its_own_line() {
    use log_archiver::client::ProtocolChoice;
    use rmcp::model::{CallToolRequestParams, CallToolResponse, InputResponses};

    let (_dir, report) = scratch_report();
    let mut server = ServeProcess::start(&report, &[]).await;
    let session = server.offline_session(ProtocolChoice::V2026_07_28).await;
    let call = |line: &str| {
        let arguments = serde_json::json!({ "log_line": line });
        CallToolRequestParams::new("process_log_entry")
            .with_arguments(arguments.as_object().cloned().unwrap())
    };

    // The first round asks for the sampling and archives nothing.
    let first = session.call_tool_once(call("ERROR line A")).await.unwrap();
    let CallToolResponse::InputRequired(asked) = first else {
        panic!("expected an input-required result, got {first:?}");
    };
    let state_for_a = asked.request_state.clone().expect("a request state");
    assert!(asked.input_requests.unwrap().contains_key("explanation"));
    assert_eq!(read_report(&report), "");

    // An answer carried with another line's request state is refused.
    let forged_answer = serde_json::json!({
        "role": "assistant",
        "content": {"type": "text", "text": "A forged explanation."},
        "model": "forger"
    });
    let mut responses = InputResponses::new();
    responses.insert("explanation".into(), forged_answer);
    let mut forged = call("ERROR line B");
    forged.request_state = Some(state_for_a.clone());
    forged.input_responses = Some(responses.clone());
    let refused = session.call_tool_once(forged).await.unwrap();
    let CallToolResponse::Complete(refused) = refused else {
        panic!("expected a tool result, got {refused:?}");
    };
    assert_eq!(refused.is_error, Some(true));
    assert_eq!(read_report(&report), "");

    // With its own line's state, the answer is archived.
    let mut answered = call("ERROR line A");
    answered.request_state = Some(state_for_a);
    answered.input_responses = Some(responses);
    let archived = session.call_tool_once(answered).await.unwrap();
    let CallToolResponse::Complete(archived) = archived else {
        panic!("expected a tool result, got {archived:?}");
    };
    assert_eq!(archived.is_error, Some(false), "{archived:?}");
    assert_eq!(report_raw_lines(&read_report(&report)), ["ERROR line A"]);
    session.cancel().await.unwrap();
    server.child.kill().await.expect("serve stops");
}

#[tokio::test]
async fn a_slow_answer_is_used_where_no_server_waits_and_a_sampling_timeout_where_one_does() {
    let mock = start_mock(MockSettings {
        latency: std::time::Duration::from_secs(5),
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 3);
    // On 2026-07-28 the client holds the answer: sent in time, it is archived however late.
    let report = dir.path().join("2026-07-28.txt");
    let mut archive = archive_command(&mock, &log, &report);
    archive.args([
        "--protocol",
        "2026-07-28",
        "--dedup",
        "off",
        "--sampling-timeout",
        "1",
    ]);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(read_report(&report), expected_report(&lines));
    // On 2025-11-25 the server stops waiting after its sampling timeout.
    let (protocol, kinds, report) =
        archive_failing_on_each_revision(&mock, 3, &["--sampling-timeout", "1"], &["2025-11-25"])
            .await
            .remove(0);
    assert_eq!(kinds, ["sampling_timeout"; 3], "{protocol}");
    assert_eq!(report, "");
    mock.stop().await;
}

#[tokio::test]
async fn the_skip_request_answers_whether_a_record_got_there_first_on_both_revisions() {
    use log_archiver::client::{ProtocolChoice, process_log_entry_with_meta};
    use log_archiver::protocol::{EntryOrder, ORDER_META_KEY, SKIP_REQUEST, SkipReply, meta_with};
    use rmcp::model::{ClientRequest, CustomRequest, RequestMetaObject, ServerResult};

    let (_dir, report) = scratch_report();
    let mut server = ServeProcess::start(&report, &[]).await;
    for protocol in [ProtocolChoice::V2026_07_28, ProtocolChoice::V2025_11_25] {
        let job = format!("{protocol:?}");
        let session = server.offline_session(protocol).await;
        let order = |seq| EntryOrder {
            job: job.clone(),
            seq,
        };
        let skip = |seq| {
            let params = serde_json::to_value(order(seq)).unwrap();
            ClientRequest::CustomRequest(CustomRequest::new(SKIP_REQUEST, Some(params)))
        };
        let meta = RequestMetaObject(meta_with(ORDER_META_KEY, &order(0)));
        let archived = process_log_entry_with_meta(&session, &format!("ERROR {job} 0"), meta)
            .await
            .unwrap();
        assert_eq!(archived.is_error, Some(false), "{protocol:?}");
        for (seq, expected) in [(0, true), (1, false)] {
            let ServerResult::CustomResult(reply) = session.send_request(skip(seq)).await.unwrap()
            else {
                panic!("{protocol:?}: the skip gets a custom result");
            };
            let reply: SkipReply = reply.result_as().unwrap();
            assert_eq!(reply.already_written, expected, "{protocol:?} seq {seq}");
        }
        // The skipped entry takes no record later.
        let meta = RequestMetaObject(meta_with(ORDER_META_KEY, &order(1)));
        let late = process_log_entry_with_meta(&session, &format!("ERROR {job} 1"), meta)
            .await
            .unwrap();
        assert_eq!(late.is_error, Some(true), "{protocol:?}");
        session.cancel().await.unwrap();
    }
    server.child.kill().await.expect("serve stops");
    assert_eq!(
        report_raw_lines(&read_report(&report)),
        ["ERROR V2026_07_28 0", "ERROR V2025_11_25 0"]
    );
}
