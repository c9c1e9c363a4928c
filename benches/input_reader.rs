//! The input side of `archive`: `EntryReader` turning a byte stream into numbered entries, and
//! the multi-line fold that joins stack-trace continuation lines into their entry.
//!
//! Every line of every input goes through the reader (on its own thread in the pipeline), so its
//! cost bounds how fast a job can be fed. 100,000 generated lines (syslog, Apache, HDFS, JSON,
//! Java stack traces, a few blank and a few over-long lines; 20 to 2,000 bytes) are read from an
//! in-memory buffer, plain and gzip-compressed (gzip is detected from the content, as for a
//! file), in bytes/s of uncompressed input; lines/s is 100,000 over the time per iteration.
//! `fold --multiline auto` is measured in lines/s on the same entries, fed through a channel as
//! the reader thread feeds it, against the channel alone (`--multiline off`).

mod common;

use std::hint::black_box;
use std::io::{Cursor, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flate2::Compression;
use flate2::write::GzEncoder;
use log_archiver::bench::sample_log_line;
use log_archiver::pipeline::input::{EntryReader, InputItem};
use log_archiver::pipeline::multiline::{MultilineMode, fold};
use tokio::sync::mpsc;

const LINES: usize = 100_000;
/// The `archive` default for `--max-line-bytes`.
const MAX_LINE_BYTES: usize = 64 * 1024;
/// Capacity of the channel between the reader and the fold.
const CHANNEL: usize = 1024;

/// A realistic log: mostly one-line entries of varied formats, Java exceptions with their
/// frames, and a few blank and long lines.
fn generate_log() -> Vec<u8> {
    let mut log = String::new();
    let mut i = 0;
    let mut lines = 0;
    while lines < LINES {
        let line = match i % 20 {
            0..=13 | 16 => sample_log_line(i),
            14 => {
                // A Java exception: one entry and its continuation lines.
                let mut trace = format!(
                    "2026-11-29 10:00:{:02},{:03} ERROR [http-nio-8080-exec-{}] o.a.c.c.C.[.[.[/].[dispatcherServlet] - Servlet.service() threw exception\njava.lang.IllegalStateException: order {} is already settled",
                    i % 60,
                    i % 1000,
                    i % 200,
                    i
                );
                for frame in 0..(6 + i % 10) {
                    trace.push_str(&format!(
                        "\n\tat com.example.billing.OrderService.settle{frame}(OrderService.java:{})",
                        100 + frame * 7
                    ));
                }
                trace.push_str("\nCaused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available\n\t... 42 more");
                trace
            }
            15 => String::new(),
            17 => format!(
                "DEBUG request {} took {} ms {}",
                i,
                i % 900,
                "x".repeat(1000 + i % 1000)
            ),
            _ => format!("2026-11-29 10:00:{:02} INFO heartbeat ok", i % 60),
        };
        lines += line.matches('\n').count() + 1;
        log.push_str(&line);
        log.push('\n');
        i += 1;
    }
    log.into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("compresses");
    encoder.finish().expect("compresses")
}

/// Reads every item of `bytes`; returns the number of entries.
fn read_all(bytes: &Arc<[u8]>) -> usize {
    let mut reader = EntryReader::from_reader("bench", Cursor::new(bytes.clone()), MAX_LINE_BYTES)
        .expect("reader opens");
    let mut entries = 0;
    while let Some(item) = reader.next_item().expect("reads") {
        if let InputItem::Entry(entry) = black_box(item) {
            entries += 1;
            black_box(entry.text);
        }
    }
    entries
}

fn read_items(bytes: &Arc<[u8]>) -> Vec<InputItem> {
    let mut reader = EntryReader::from_reader("bench", Cursor::new(bytes.clone()), MAX_LINE_BYTES)
        .expect("reader opens");
    let mut items = Vec::new();
    while let Some(item) = reader.next_item().expect("reads") {
        items.push(item);
    }
    items
}

fn bench_reader(c: &mut Criterion) {
    let plain: Arc<[u8]> = generate_log().into();
    let compressed: Arc<[u8]> = gzip(&plain).into();
    let lines = plain.iter().filter(|&&byte| byte == b'\n').count();
    assert_eq!(lines, LINES);
    let entries = read_all(&plain);
    assert_eq!(read_all(&compressed), entries);
    println!(
        "input: {lines} lines ({entries} entries), {} bytes plain, {} bytes gzip",
        plain.len(),
        compressed.len()
    );

    let mut group = c.benchmark_group("entry_reader");
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.bench_function("plain", |b| b.iter(|| read_all(&plain)));
    group.bench_function("gzip", |b| b.iter(|| read_all(&compressed)));
    group.finish();
}

fn bench_fold(c: &mut Criterion) {
    let runtime = common::runtime();
    let plain: Arc<[u8]> = generate_log().into();
    let items = read_items(&plain);

    let mut group = c.benchmark_group("multiline_fold");
    group.throughput(Throughput::Elements(items.len() as u64));
    for (name, mode) in [
        ("channel_only_off", MultilineMode::Off),
        ("auto", MultilineMode::Auto),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let (items, mode) = (&items, mode.clone());
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let batch = items.clone();
                        let start = Instant::now();
                        let (sender, receiver) = mpsc::channel(CHANNEL);
                        let feeder = tokio::spawn(async move {
                            for item in batch {
                                if sender.send(Ok(item)).await.is_err() {
                                    return;
                                }
                            }
                        });
                        let mut folded = fold(receiver, mode.clone(), MAX_LINE_BYTES);
                        let mut count = 0_usize;
                        while let Some(item) = folded.recv().await {
                            black_box(item.expect("no read error"));
                            count += 1;
                        }
                        feeder.await.expect("feeder finishes");
                        total += start.elapsed();
                        black_box(count);
                    }
                    total
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_reader, bench_fold
}
criterion_main!(benches);
