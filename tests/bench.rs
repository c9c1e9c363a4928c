//! `log-archiver bench` end to end: a small matrix through real archive processes, with its
//! table, CSV and chart.

mod common;

use common::{command, finish};

#[tokio::test]
async fn a_small_matrix_measures_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let mut bench = command();
    bench
        .arg("bench")
        .args([
            "--concurrency",
            "4,8",
            "--latency",
            "0,50ms",
            "--latency-spread",
            "20ms",
        ])
        .args(["--rpm", "none,600", "--client-limit", "match"])
        .args([
            "--lines",
            "100",
            "--run-seconds",
            "1",
            "--run-timeout",
            "2m",
        ])
        .arg("--out")
        .arg(&out);
    let finished = finish(bench).await;
    assert!(finished.success, "{}", finished.stderr);
    assert!(finished.stderr.contains("[8/8]"), "{}", finished.stderr);
    assert!(finished.stdout.starts_with("conc"), "{}", finished.stdout);

    let mut csv = csv::Reader::from_path(out.join("bench.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 8);
    let headers = csv.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    for row in &rows {
        assert_eq!(&row[column("status")], "ok", "{row:?}");
        let rate: f64 = row[column("lines_per_sec")].parse().unwrap();
        assert!(rate > 0.0);
        assert!(row[column("peak_rss_mb")].parse::<f64>().unwrap() > 1.0);
        assert!(
            row[column("cpu_secs_per_1000_lines")]
                .parse::<f64>()
                .unwrap()
                > 0.0
        );
        if &row[column("provider_rpm")] == "600" {
            // The client was told the limit: the provider never had to refuse.
            assert_eq!(&row[column("provider_429s")], "0", "{row:?}");
            assert_eq!(
                row[column("bound_lines_per_sec")].parse::<f64>().unwrap(),
                10.0
            );
        }
    }
    let with_latency = rows
        .iter()
        .find(|row| &row[column("latency")] == "40-60 ms" && &row[column("concurrency")] == "8")
        .expect("a run with 50 ms latency at concurrency 8");
    assert_eq!(
        with_latency[column("bound_lines_per_sec")]
            .parse::<f64>()
            .unwrap(),
        160.0
    );
    let svg = std::fs::read_to_string(out.join("throughput.svg")).unwrap();
    assert!(svg.contains("latency 40-60 ms, no rate limit"));
}
