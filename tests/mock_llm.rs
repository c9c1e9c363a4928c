//! The mock LLM as a client sees it: authentication, answers, injected faults, its own rate
//! limit with Anthropic's headers, and the counters at `/stats`.

mod common;

use std::time::Duration;

use common::*;
use log_archiver::mock::{MockSettings, MockStatsSnapshot};
use serde_json::{Value, json};

fn body(text: &str, max_tokens: u32) -> Value {
    json!({"model": "claude-test", "max_tokens": max_tokens,
           "messages": [{"role": "user", "content": text}]})
}

async fn post(base: &str, key: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/v1/messages"))
        .json(body);
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn answers_deterministically_with_usage_that_grows_with_input() {
    let mock = start_mock(MockSettings::default()).await;
    let short: Value = post(&mock.base_url(), Some("k"), &body("ERROR short", 100))
        .await
        .json()
        .await
        .unwrap();
    let again: Value = post(&mock.base_url(), Some("k"), &body("ERROR short", 100))
        .await
        .json()
        .await
        .unwrap();
    let long: Value = post(
        &mock.base_url(),
        Some("k"),
        &body(&"ERROR long ".repeat(50), 100),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(short["content"], again["content"]);
    assert_eq!(short["type"], "message");
    assert_eq!(short["role"], "assistant");
    assert_eq!(short["model"], "claude-test");
    assert_eq!(short["stop_reason"], "end_turn");
    let text = short["content"][0]["text"].as_str().unwrap();
    assert!(text.ends_with('.') && !text.contains('\n'), "{text}");
    assert!(long["usage"]["input_tokens"].as_u64() > short["usage"]["input_tokens"].as_u64());
    mock.stop().await;
}

#[tokio::test]
async fn requires_a_key_and_accepts_bearer_tokens() {
    let mock = start_mock(MockSettings {
        api_key: Some("good".into()),
        ..MockSettings::default()
    })
    .await;
    let missing = post(&mock.base_url(), None, &body("x", 10)).await;
    assert_eq!(missing.status(), 401);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "authentication_error");
    assert_eq!(
        post(&mock.base_url(), Some("bad"), &body("x", 10))
            .await
            .status(),
        401
    );
    assert_eq!(
        post(&mock.base_url(), Some("good"), &body("x", 10))
            .await
            .status(),
        200
    );
    let bearer = reqwest::Client::new()
        .post(format!("{}/v1/messages", mock.base_url()))
        .bearer_auth("good")
        .json(&body("x", 10))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 200);
    let invalid = post(&mock.base_url(), Some("good"), &json!({"model": "m"})).await;
    assert_eq!(invalid.status(), 400);
    mock.stop().await;
}

#[tokio::test]
async fn injects_faults_on_schedule_and_counts_them() {
    let mock = start_mock(MockSettings {
        faults: vec![
            "429:every=2".parse().unwrap(),
            "529:every=3".parse().unwrap(),
        ],
        retry_after: Duration::from_secs(7),
        ..MockSettings::default()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = post(&mock.base_url(), Some("k"), &body("x", 10)).await;
        if response.status() == 429 {
            assert_eq!(response.headers()["retry-after"], "7");
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 429, 529, 429, 200, 429]);
    let stats: MockStatsSnapshot = reqwest::get(format!("{}/stats", mock.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats.requests, 6);
    assert_eq!(stats.by_status[&429], 3);
    assert_eq!(stats.by_status[&529], 1);
    assert_eq!(stats.by_status[&200], 2);
    assert_eq!(stats.in_flight, 0);
    mock.stop().await;
}

#[tokio::test]
async fn enforces_its_rate_limit_with_anthropic_headers() {
    let mock = start_mock(MockSettings {
        requests_per_minute: Some(3),
        ..MockSettings::default()
    })
    .await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let response = post(&mock.base_url(), Some("k"), &body("x", 10)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["anthropic-ratelimit-requests-limit"],
            "3"
        );
        remaining.push(
            response.headers()["anthropic-ratelimit-requests-remaining"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(remaining, vec!["2", "1", "0"]);
    let limited = post(&mock.base_url(), Some("k"), &body("x", 10)).await;
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert!(
        limited
            .headers()
            .contains_key("anthropic-ratelimit-requests-reset")
    );
    let error: Value = limited.json().await.unwrap();
    assert_eq!(error["error"]["type"], "rate_limit_error");
    mock.stop().await;
}

#[tokio::test]
async fn latency_holds_requests_in_flight_together() {
    let mock = start_mock(MockSettings {
        latency: Duration::from_millis(300),
        ..MockSettings::default()
    })
    .await;
    let base = mock.base_url();
    let requests: Vec<_> = (0..5)
        .map(|_| {
            let base = base.clone();
            tokio::spawn(async move { post(&base, Some("k"), &body("x", 10)).await.status() })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap(), 200);
    }
    assert_eq!(mock.stats().snapshot().max_in_flight, 5);
    mock.stop().await;
}

#[tokio::test]
async fn the_binary_serves_on_the_port_it_prints() {
    let mock = MockProcess::start(&["--fault", "500:every=1"]).await;
    let response = post(&mock.base_url, Some("k"), &body("x", 10)).await;
    assert_eq!(response.status(), 500);
}

#[tokio::test]
async fn the_binary_rejects_a_bad_fault_spec() {
    let mut mock = command();
    mock.args(["mock-llm", "--fault", "418:every=1"]);
    let finished = finish(mock).await;
    assert!(!finished.success);
    assert!(
        finished.stderr.contains("invalid fault '418:every=1'"),
        "{}",
        finished.stderr
    );
}
