//! The client's share of every sampling request: mapping the server's `sampling/createMessage`
//! params onto a provider-neutral completion request (`completion_request_from`), mapping the
//! completion back (`sampling_result_from`), and the serde_json (de)serialization of both that
//! happens on the wire (the client parses the params and writes the result once per entry).
//!
//! The params are the ones the server sends for one log line: its system prompt and the default
//! prompt template around a 190-byte Kafka error line, `maxTokens` 100; the result carries a
//! one-sentence explanation. Figures are per call (and bytes/s of JSON for the serde benches).
//! The Anthropic request body is built by a private function of `llm::anthropic`, so it is not
//! measured here.

// Sampling is deprecated in the newest protocol revision but is what the server speaks.
#![allow(deprecated)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use log_archiver::client::{completion_request_from, sampling_result_from};
use log_archiver::llm::{Completion, Sharing, StopReason, TokenUsage};
use log_archiver::server::{PromptTemplate, SYSTEM_PROMPT};
use rmcp::model::{CreateMessageRequestParams, CreateMessageResult};

const LOG_LINE: &str = "2026-11-29 10:00:17,342 ERROR [main] o.a.k.c.NetworkClient - [Consumer \
    clientId=consumer-7, groupId=billing] Connection to node 2 (broker-2.internal/10.1.4.17:9092) \
    could not be established. Broker may not be available.";

const ANSWER: &str = "The Kafka consumer in the billing group could not connect to broker 2 at \
    10.1.4.17:9092, so it cannot fetch from the partitions that broker leads until it is \
    reachable again.";

/// The params as they arrive on the wire, parsed the way the client's transport parses them.
fn params_json() -> String {
    serde_json::json!({
        "messages": [
            {
                "role": "user",
                "content": {"type": "text", "text": PromptTemplate::default().render(LOG_LINE)}
            }
        ],
        "systemPrompt": SYSTEM_PROMPT,
        "maxTokens": 100
    })
    .to_string()
}

fn completion() -> Completion {
    Completion {
        model: "claude-sonnet-4-6".into(),
        text: ANSWER.into(),
        stop_reason: Some(StopReason::EndTurn),
        usage: TokenUsage {
            input_tokens: 112,
            output_tokens: 41,
        },
        rate_limit: None,
        sharing: Sharing::default(),
    }
}

fn bench_mapping(c: &mut Criterion) {
    let json = params_json();
    let params: CreateMessageRequestParams = serde_json::from_str(&json).expect("params parse");
    let completion = completion();

    let mut group = c.benchmark_group("sampling_mapping");
    group.bench_function("completion_request_from", |b| {
        b.iter_batched(
            || params.clone(),
            |params| completion_request_from(black_box(params)).expect("maps"),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("sampling_result_from", |b| {
        b.iter_batched(
            || completion.clone(),
            |completion| sampling_result_from(black_box(completion), Duration::from_millis(40)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn bench_json(c: &mut Criterion) {
    let params_text = params_json();
    let params: CreateMessageRequestParams =
        serde_json::from_str(&params_text).expect("params parse");
    let result = sampling_result_from(completion(), Duration::from_millis(40));
    let result_text = serde_json::to_string(&result).expect("result serializes");

    let mut group = c.benchmark_group("sampling_json");
    group.throughput(Throughput::Bytes(params_text.len() as u64));
    group.bench_function("params_from_json", |b| {
        b.iter(|| {
            serde_json::from_str::<CreateMessageRequestParams>(black_box(&params_text))
                .expect("params parse")
        })
    });
    group.bench_function("params_to_json", |b| {
        b.iter(|| serde_json::to_vec(black_box(&params)).expect("params serialize"))
    });
    group.throughput(Throughput::Bytes(result_text.len() as u64));
    group.bench_function("result_from_json", |b| {
        b.iter(|| {
            serde_json::from_str::<CreateMessageResult>(black_box(&result_text))
                .expect("result parses")
        })
    });
    group.bench_function("result_to_json", |b| {
        b.iter(|| serde_json::to_vec(black_box(&result)).expect("result serializes"))
    });
    group.finish();
    println!(
        "params JSON {} bytes, result JSON {} bytes",
        params_text.len(),
        result_text.len()
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_mapping, bench_json
}
criterion_main!(benches);
