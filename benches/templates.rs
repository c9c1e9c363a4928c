//! Throughput of `TemplateMiner::add` over the `Content` column of the loghub
//! 2k samples (Apache, HDFS, OpenSSH, Zookeeper).

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
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

criterion_group!(benches, bench_add);
criterion_main!(benches);
