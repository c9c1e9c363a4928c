//! The report's write path: the reorder buffer behind the `ReportWriter` actor, and the record
//! format.
//!
//! Every explained entry of a job goes through `ReportWriter::resolve`, which puts it back into
//! input order (the reorder buffer is private to the actor, so it is measured through the actor's
//! public handle, a real file included). Three orders are measured, in records/s:
//! - `sequential_in_order`: one resolve awaited at a time, the cost of one actor round trip;
//! - `in_order_window64`: 64 resolves in flight at once, arriving in order (nothing buffered);
//! - `shuffled_window64`: 64 in flight, shuffled within each window, as concurrent calls finish
//!   out of order (records wait in the buffer for their gap).
//!
//! `format_record` (every record written) and `parse_report` (`retry`, resume checks and the
//! tests read reports back) are measured in bytes/s of report text.

mod common;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::future::join_all;
use log_archiver::bench::sample_log_line;
use log_archiver::report::{
    OrderPolicy, ReportFormat, ReportWriter, Resolution, format_record, parse_report,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Records resolved per measured iteration (one fresh writer and report file each).
const RECORDS: usize = 4096;
/// Resolutions in flight at once, and the span within which they are shuffled.
const WINDOW: usize = 64;

/// A realistic one-sentence explanation, 100 to 250 characters.
fn analysis(i: usize) -> String {
    const SENTENCES: [&str; 4] = [
        "The application could not open a connection to its database within the configured timeout, which usually means the database is overloaded or unreachable.",
        "Someone tried to log in over SSH as a user that does not exist, a typical sign of an automated password-guessing attack.",
        "The Apache connector found a worker in an error state and will retry it.",
        "A downstream service returned an error, so the request failed; check the provider's status and the retry policy, since repeated 502 responses often point to an outage upstream of the load balancer.",
    ];
    format!("{} (entry {i})", SENTENCES[i % SENTENCES.len()])
}

fn records() -> Vec<String> {
    (0..RECORDS)
        .map(|i| format_record(&sample_log_line(i), &analysis(i)))
        .collect()
}

/// Sequence numbers in the order they are resolved, cut into windows resolved concurrently.
fn windows(shuffled: bool, window: usize) -> Vec<Vec<u64>> {
    let mut rng = StdRng::seed_from_u64(7);
    (0..RECORDS as u64)
        .collect::<Vec<_>>()
        .chunks(window)
        .map(|chunk| {
            let mut chunk = chunk.to_vec();
            if shuffled {
                chunk.shuffle(&mut rng);
            }
            chunk
        })
        .collect()
}

/// Resolves every record once through a fresh writer on a fresh file; returns the time the
/// resolutions took (starting and stopping the writer are not counted).
async fn resolve_all(dir: &Path, round: u64, records: &[String], windows: &[Vec<u64>]) -> Duration {
    let path = dir.join(format!("report-{round}.txt"));
    let (writer, join) = ReportWriter::start(&path, OrderPolicy::job_owned(), ReportFormat::Text)
        .await
        .expect("writer starts");
    let batches: Vec<Vec<(u64, String)>> = windows
        .iter()
        .map(|window| {
            window
                .iter()
                .map(|&seq| (seq, records[seq as usize].clone()))
                .collect()
        })
        .collect();
    let start = Instant::now();
    for batch in batches {
        if batch.len() == 1 {
            let (seq, record) = batch.into_iter().next().expect("one record");
            let resolution = writer.resolve("bench", seq, Some(record)).await;
            assert_eq!(resolution.expect("resolved"), Resolution::Accepted);
        } else {
            let resolutions = join_all(
                batch
                    .into_iter()
                    .map(|(seq, record)| writer.resolve("bench", seq, Some(record))),
            )
            .await;
            for resolution in resolutions {
                assert_eq!(resolution.expect("resolved"), Resolution::Accepted);
            }
        }
    }
    // Every number is resolved, so every record has been written by now.
    let elapsed = start.elapsed();
    writer.stop();
    join.await.expect("writer stops");
    let expected: usize = records.iter().map(String::len).sum();
    assert_eq!(
        std::fs::metadata(&path).expect("report exists").len() as usize,
        expected,
        "every record was written"
    );
    std::fs::remove_file(&path).expect("report removed");
    elapsed
}

fn bench_writer(c: &mut Criterion) {
    let runtime = common::runtime();
    let dir = tempfile::tempdir().expect("temp dir");
    let records = records();
    let orders = [
        ("sequential_in_order", windows(false, 1)),
        ("in_order_window64", windows(false, WINDOW)),
        ("shuffled_window64", windows(true, WINDOW)),
    ];

    let mut group = c.benchmark_group("report_writer_resolve");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(10);
    let mut round = 0_u64;
    for (name, windows) in &orders {
        group.bench_function(*name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let first = round;
                round += iters;
                let (dir, records, windows) = (dir.path(), &records, windows);
                async move {
                    let mut total = Duration::ZERO;
                    for i in 0..iters {
                        total += resolve_all(dir, first + i, records, windows).await;
                    }
                    total
                }
            })
        });
    }
    group.finish();
}

fn bench_record(c: &mut Criterion) {
    let pairs: Vec<(String, String)> = (0..RECORDS)
        .map(|i| (sample_log_line(i), analysis(i)))
        .collect();
    let report: String = pairs
        .iter()
        .map(|(raw, analysis)| format_record(raw, analysis))
        .collect();

    let mut group = c.benchmark_group("report_record");
    // Both are counted in bytes of report text, so the two figures compare directly.
    group.throughput(Throughput::Bytes(report.len() as u64));
    group.bench_function("format_record", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for (raw, analysis) in &pairs {
                bytes += black_box(format_record(black_box(raw), black_box(analysis))).len();
            }
            bytes
        })
    });
    group.bench_function("parse_report", |b| {
        b.iter(|| {
            let parsed = parse_report(black_box(&report)).expect("report parses");
            assert_eq!(parsed.len(), RECORDS);
            parsed
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_writer, bench_record
}
criterion_main!(benches);
