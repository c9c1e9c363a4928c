//! Throughput of `TemplateMiner::add` over the `Content` column of the loghub
//! 2k samples (Apache, HDFS, OpenSSH, Zookeeper), and of grouping the thirteen raw
//! samples into kinds as a job does (header detection, cutting and mining).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use log_archiver::dedup::grouping::{GroupBook, Grouper, SplitLearner};
use log_archiver::dedup::header::{HeaderFormat, SAMPLE_LINES};
use log_archiver::dedup::templates::{MinerConfig, TemplateMiner};

const LOGS: [&str; 4] = ["Apache", "HDFS", "OpenSSH", "Zookeeper"];

fn loghub_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/loghub"))
}

/// The `Content` column of one log's structured CSV.
fn contents(name: &str) -> Vec<String> {
    let path = loghub_dir()
        .join(name)
        .join(format!("{name}_2k.log_structured.csv"));
    let mut reader = csv::Reader::from_path(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let column = reader
        .headers()
        .expect("headers")
        .iter()
        .position(|h| h == "Content")
        .expect("Content column");
    reader
        .records()
        .map(|r| r.expect("record")[column].to_owned())
        .collect()
}

fn bench_add(c: &mut Criterion) {
    let per_log: Vec<(&str, Vec<String>)> = LOGS.iter().map(|&n| (n, contents(n))).collect();
    let all: Vec<&str> = per_log
        .iter()
        .flat_map(|(_, lines)| lines.iter().map(String::as_str))
        .collect();

    let mut group = c.benchmark_group("add");
    group.throughput(Throughput::Elements(all.len() as u64));
    // One pass over all four logs with a fresh miner (template creation
    // included), as when archiving a new batch of logs.
    group.bench_function("all_logs_fresh_miner", |b| {
        b.iter(|| {
            let mut miner = TemplateMiner::new(MinerConfig::default());
            for line in &all {
                black_box(miner.add(black_box(line)));
            }
            miner.len()
        })
    });
    // Steady state: every template already known.
    let mut warm = TemplateMiner::new(MinerConfig::default());
    for line in &all {
        warm.add(line);
    }
    group.bench_function("all_logs_warm_miner", |b| {
        b.iter(|| {
            for line in &all {
                black_box(warm.add(black_box(line)));
            }
        })
    });
    for (name, lines) in &per_log {
        group.throughput(Throughput::Elements(lines.len() as u64));
        group.bench_function(format!("{name}_fresh_miner"), |b| {
            b.iter(|| {
                let mut miner = TemplateMiner::new(MinerConfig::default());
                for line in lines {
                    black_box(miner.add(black_box(line)));
                }
                miner.len()
            })
        });
    }
    group.finish();
}

/// Grouping each raw sample as a job over that file does, in its two passes: `learn` finds the
/// header from the first lines and reads the whole file once to learn its kinds; `group` cuts,
/// mines and groups every line with what was learned. Each counts every line once.
fn bench_group_raw(c: &mut Criterion) {
    let mut names: Vec<String> = std::fs::read_dir(loghub_dir())
        .expect("fixtures/loghub")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| {
            loghub_dir()
                .join(name)
                .join(format!("{name}_2k.log"))
                .is_file()
        })
        .collect();
    names.sort();
    let logs: Vec<String> = names
        .iter()
        .map(|name| {
            std::fs::read_to_string(loghub_dir().join(name).join(format!("{name}_2k.log")))
                .expect("raw sample")
        })
        .collect();
    let lines: usize = logs.iter().map(|log| log.lines().count()).sum();
    let learn = |log: &str| {
        let header = HeaderFormat::detect(log.lines().take(SAMPLE_LINES));
        let mut learner = SplitLearner::new(header);
        for line in log.lines() {
            learner.observe(black_box(line));
        }
        learner.finish()
    };
    let mut group = c.benchmark_group("group");
    group.throughput(Throughput::Elements(lines as u64));
    group.bench_function("learn_thirteen_raw_logs", |b| {
        b.iter(|| {
            for log in &logs {
                black_box(learn(log));
            }
        })
    });
    let learned: Vec<_> = logs.iter().map(|log| learn(log)).collect();
    group.bench_function("group_thirteen_raw_logs", |b| {
        b.iter(|| {
            for (log, learned) in logs.iter().zip(&learned) {
                let mut grouper = Grouper::with_learned(learned.clone(), GroupBook::new(1 << 16));
                for line in log.lines() {
                    black_box(grouper.group(black_box(line)));
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_add, bench_group_raw);
criterion_main!(benches);
