//! The Claude generations as the mock emulates them and as a job meets them: the classic one
//! answers with text at once; the 5.5 one thinks first within `max_tokens`, puts its thinking
//! block first and refuses sampling parameters with 400. A job asks a 5.5 model for low effort,
//! never sends what it refuses, asks again with a larger budget when thinking used the whole of
//! it, and prices the answers from the model table.

#![allow(deprecated)]

mod common;

use std::sync::Arc;

use common::*;
use log_archiver::client::{SamplingHandler, SamplingPolicy, SamplingRules};
use log_archiver::llm::{AnthropicBackend, AnthropicSettings, Effort};
use log_archiver::mock::{Generation, MockSettings};
use log_archiver::pipeline::failures::read_failures;
use rmcp::model::{CreateMessageRequestParams, Role, SamplingMessage, SamplingMessageContentBlock};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

async fn post(base: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/messages"))
        .header("x-api-key", "k")
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn request(extra: Value) -> Value {
    let mut body = json!({"model": "claude-sonnet-5-5", "max_tokens": 100,
        "messages": [{"role": "user", "content": "Explain: ERROR disk full on /var"}]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

fn adaptive() -> MockSettings {
    MockSettings {
        generation: Generation::Adaptive,
        ..MockSettings::default()
    }
}

#[tokio::test]
async fn the_5_5_emulation_thinks_first_within_max_tokens() {
    let mock = start_mock(adaptive()).await;
    // At the default effort (high) thinking spends all 100 tokens: no text block at all.
    let (status, dry) = post(&mock.base_url(), &request(json!({}))).await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["stop_reason"], "max_tokens");
    assert_eq!(dry["usage"]["output_tokens"], 100);
    let blocks = dry["content"].as_array().unwrap();
    assert_eq!(blocks.len(), 1, "{dry}");
    assert_eq!(blocks[0]["type"], "thinking");
    // At low effort the thinking block comes first and the text follows.
    let low = request(json!({"output_config": {"effort": "low"}}));
    let (status, answer) = post(&mock.base_url(), &low).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["stop_reason"], "end_turn");
    assert_eq!(answer["content"][0]["type"], "thinking");
    assert_eq!(answer["content"][1]["type"], "text");
    assert!(
        answer["content"][1]["text"]
            .as_str()
            .unwrap()
            .contains("storage failure"),
        "{answer}"
    );
    mock.stop().await;
}

#[tokio::test]
async fn the_5_5_emulation_refuses_what_the_family_refuses() {
    let mock = start_mock(adaptive()).await;
    for refused in [
        json!({"temperature": 0.3}),
        json!({"top_p": 0.9}),
        json!({"top_k": 10}),
        json!({"thinking": {"type": "disabled"}}),
    ] {
        let (status, error) = post(&mock.base_url(), &request(refused.clone())).await;
        assert_eq!(status, 400, "{refused}");
        assert_eq!(error["type"], "error");
        assert_eq!(error["error"]["type"], "invalid_request_error", "{refused}");
    }
    // The classic generation takes the same parameters and answers at once with text.
    let classic = start_mock(MockSettings::default()).await;
    let (status, answer) = post(&classic.base_url(), &request(json!({"temperature": 0.3}))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["content"][0]["type"], "text");
    assert_eq!(answer["stop_reason"], "end_turn");
    classic.stop().await;
    mock.stop().await;
}

#[tokio::test]
async fn a_server_asking_for_a_temperature_still_gets_a_5_5_answer() {
    let mock = start_mock(adaptive()).await;
    let backend = AnthropicBackend::new(AnthropicSettings {
        api_key: "k".into(),
        base_url: mock.base_url(),
        model: "claude-sonnet-5-5".into(),
        request_timeout: std::time::Duration::from_secs(30),
        effort: Effort::Low,
    })
    .unwrap();
    let handler = SamplingHandler::new(Arc::new(backend)).with_rules(SamplingRules {
        policy: SamplingPolicy::default(),
        ..SamplingRules::default()
    });
    let _call = handler.call_started();
    let message = SamplingMessage::new(
        Role::User,
        SamplingMessageContentBlock::text("Explain: ERROR disk full on /var"),
    );
    let params = CreateMessageRequestParams::new(vec![message], 100).with_temperature(0.2);
    let result = handler
        .answer(params, &CancellationToken::new())
        .await
        .expect("the temperature is dropped, not sent");
    let json = serde_json::to_value(&result).unwrap();
    assert!(
        json["content"]["text"]
            .as_str()
            .unwrap()
            .contains("storage failure"),
        "{json}"
    );
    assert_eq!(mock.stats().snapshot().by_status.get(&400), None);
    mock.stop().await;
}

/// Archives `count` lines against `mock-llm EXTRA...` with `--model MODEL ARGS...`; checks
/// that every line is archived with the mock's real answer and nothing failed, and returns the
/// summary, the job's stderr and the mock's request count.
async fn archive_every_line(
    mock_args: &[&str],
    model: &str,
    args: &[&str],
) -> (Value, String, u64) {
    let mock = MockProcess::start(mock_args).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 40);
    let report = dir.path().join("report.txt");
    let mut archive = job_command_at(&mock.base_url, "archive");
    archive
        .arg(&log)
        .arg("--report")
        .arg(&report)
        .args(["--model", model, "--dedup", "off", "--json"])
        .args(args);
    let finished = finish(archive).await;
    assert_eq!(finished.code, Some(0), "{}", finished.stderr);
    assert_eq!(read_report(&report), expected_report(&lines));
    let failures = dir.path().join("report.txt.failed.csv");
    assert!(
        !failures.exists(),
        "{:?}",
        read_failures(&failures).unwrap_or_default()
    );
    let summary: Value = serde_json::from_str(finished.stdout.trim()).unwrap();
    assert_eq!(summary["counters"]["archived"], 40, "{summary}");
    let requests = mock.stats().await.requests;
    (summary, finished.stderr, requests)
}

#[tokio::test]
async fn archive_against_the_5_5_emulation_archives_every_line_and_shows_the_cost() {
    let (summary, stderr, requests) =
        archive_every_line(&["--generation", "5.5"], "claude-sonnet-5-5", &[]).await;
    // Low effort leaves room for the answer: one request a line.
    assert_eq!(requests, 40);
    let cost = summary["estimated_cost_usd"].as_f64().unwrap();
    let counters = &summary["counters"];
    let input = counters["input_tokens"].as_u64().unwrap() as f64;
    let output = counters["output_tokens"].as_u64().unwrap() as f64;
    let expected = (input * 2.0 + output * 10.0) / 1e6;
    assert!((cost - expected).abs() < 1e-9, "{cost} vs {expected}");
    assert!(stderr.contains("thinking at effort low"), "{stderr}");
    assert_eq!(
        stderr.matches("warning: claude-sonnet-5-5 refuses").count(),
        1,
        "{stderr}"
    );
}

#[tokio::test]
async fn an_answer_whose_budget_thinking_spent_is_asked_again_with_a_larger_one() {
    let (summary, _, requests) = archive_every_line(
        &["--generation", "5.5"],
        "claude-opus-5-5",
        &["--effort", "high"],
    )
    .await;
    // Every first answer ran dry at max_tokens 100; each line was asked once more, larger.
    assert_eq!(requests, 80);
    assert!(summary["estimated_cost_usd"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn archive_against_the_classic_generation_prices_the_default_model() {
    let (summary, stderr, requests) = archive_every_line(&[], "claude-haiku-4-5", &[]).await;
    assert_eq!(requests, 40);
    let counters = &summary["counters"];
    let input = counters["input_tokens"].as_u64().unwrap() as f64;
    let output = counters["output_tokens"].as_u64().unwrap() as f64;
    let cost = summary["estimated_cost_usd"].as_f64().unwrap();
    assert!((cost - (input + output * 5.0) / 1e6).abs() < 1e-9, "{cost}");
    assert!(!stderr.contains("warning:"), "{stderr}");
}
