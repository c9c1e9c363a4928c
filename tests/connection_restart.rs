//! A connection actor killed mid-job is restarted by the supervisor, and the entries it had in
//! flight are re-sent: none lost, none written twice.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use log_archiver::client::{ModelChoice, ProtocolChoice, SamplingRules};
use log_archiver::dedup::DedupMode;
use log_archiver::llm::{AnthropicBackend, AnthropicSettings, PriceTable, RateLimits, RetryPolicy};
use log_archiver::mock::MockSettings;
use log_archiver::pipeline::filter::EntryFilter;
use log_archiver::pipeline::input::InputSource;
use log_archiver::pipeline::multiline::MultilineMode;
use log_archiver::pipeline::progress::ProgressMode;
use log_archiver::pipeline::{CostPlan, JobInput, JobSettings, JobStatus, LlmPlan, run_job};
use log_archiver::report::ReportFormat;
use log_archiver::server::ToolSettings;

fn connection_zero() -> Option<ractor::ActorCell> {
    ractor::registry::registered()
        .into_iter()
        .find(|name| name.contains("-connection-0-"))
        .and_then(ractor::registry::where_is)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_is_restarted_and_its_entries_resent() {
    let mock = start_mock(MockSettings {
        latency: Duration::from_millis(20),
        latency_spread: Duration::from_millis(20),
        ..MockSettings::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lines = write_log(&log, 600);
    let report = dir.path().join("report.txt");
    let backend = AnthropicBackend::new(AnthropicSettings {
        api_key: "test".into(),
        base_url: mock.base_url(),
        model: "mock".into(),
        request_timeout: Duration::from_secs(30),
        effort: Default::default(),
    })
    .unwrap();
    let settings = JobSettings {
        input: JobInput::Log(InputSource::File(log.clone())),
        report: report.clone(),
        report_format: ReportFormat::Text,
        failures: dir.path().join("failures.csv"),
        server: None,
        protocol: ProtocolChoice::Auto,
        connections: 2,
        concurrency: 16,
        batch: 8,
        max_line_bytes: 65536,
        resume: false,
        tool: ToolSettings::default(),
        progress: ProgressMode::Off,
        dedup: DedupMode::Off,
        log_format: None,
        filter: EntryFilter::default(),
        multiline: MultilineMode::Off,
        cost: CostPlan {
            prices: PriceTable::default(),
            model: "mock".into(),
            max_usd: None,
            max_tokens: None,
        },
        llm: LlmPlan {
            backend: Arc::new(backend),
            models: ModelChoice::default(),
            limits: RateLimits::default(),
            retry: RetryPolicy::default(),
            attempt_timeout: Duration::from_secs(30),
            sampling: SamplingRules::default(),
        },
    };
    let (_interrupts, interrupt_receiver) = tokio::sync::mpsc::channel(1);
    let job = tokio::spawn(run_job(settings, interrupt_receiver));

    let mut victim = None;
    for _ in 0..400 {
        if report_raw_lines(&read_report(&report)).len() >= 60 {
            victim = connection_zero();
            if victim.is_some() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let victim = victim.expect("the job is under way with a connection 0");
    let victim_id = victim.get_id();
    victim.kill();
    let mut restarted = false;
    for _ in 0..400 {
        if connection_zero().is_some_and(|cell| cell.get_id() != victim_id) {
            restarted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(restarted, "connection 0 came back as a new actor");

    let outcome = tokio::time::timeout(Duration::from_secs(120), job)
        .await
        .expect("the job finishes")
        .unwrap()
        .unwrap();
    assert_eq!(outcome.result.status, JobStatus::Completed);
    assert_eq!(outcome.result.counters.archived, 600);
    assert_eq!(outcome.result.counters.failed, 0);
    assert_eq!(read_report(&report), expected_report(&lines));
    mock.stop().await;
}
