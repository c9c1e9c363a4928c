//! The benchmark chart (SVG): throughput against concurrency, one line per latency and rate
//! limit, with the theoretical bound of each drawn dashed beside it.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use super::results::RunResult;

/// The series a run belongs to: everything but its concurrency.
fn series_name(run: &RunResult) -> String {
    let limit = match (run.provider_rpm, run.client_limit.as_deref()) {
        (Some(rpm), Some(client)) => format!("{rpm} rpm, client {client}"),
        (Some(rpm), None) => format!("{rpm} rpm"),
        (None, _) => "no rate limit".to_string(),
    };
    format!("latency {}, {limit}", run.latency)
}

/// Draws `results` into an SVG file at `path`.
pub fn write_chart(results: &[RunResult], path: &Path) -> anyhow::Result<()> {
    let mut series: BTreeMap<String, Vec<&RunResult>> = BTreeMap::new();
    for run in results.iter().filter(|run| run.lines_per_sec.is_some()) {
        series.entry(series_name(run)).or_default().push(run);
    }
    let max_concurrency = results.iter().map(|run| run.concurrency).max().unwrap_or(1) as f64;
    let min_concurrency = results.iter().map(|run| run.concurrency).min().unwrap_or(1) as f64;
    let highest = results
        .iter()
        .flat_map(|run| [run.lines_per_sec, run.bound_lines_per_sec])
        .flatten()
        .fold(1.0_f64, f64::max);

    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    let draw_error = |error: DrawingAreaErrorKind<std::io::Error>| {
        anyhow::anyhow!("cannot draw the chart '{}': {error}", path.display())
    };
    root.fill(&WHITE).map_err(draw_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "log-archiver: lines/s against concurrency (dashed: the bound)",
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(
            (min_concurrency * 0.8..max_concurrency * 1.25).log_scale(),
            (1.0..highest * 2.0).log_scale(),
        )
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc("concurrency (calls in flight)")
        .x_labels(12)
        .x_label_formatter(&|concurrency| format!("{concurrency:.0}"))
        .y_label_formatter(&|rate| format!("{rate:.0}"))
        .y_desc("lines per second")
        .draw()
        .map_err(draw_error)?;

    for (index, (name, runs)) in series.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let measured: Vec<(f64, f64)> = runs
            .iter()
            .filter_map(|run| Some((run.concurrency as f64, run.lines_per_sec?)))
            .collect();
        chart
            .draw_series(LineSeries::new(measured.clone(), color.stroke_width(2)))
            .map_err(draw_error)?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                measured
                    .iter()
                    .map(|point| Circle::new(*point, 4, color.filled())),
            )
            .map_err(draw_error)?;
        let bound: Vec<(f64, f64)> = runs
            .iter()
            .filter_map(|run| Some((run.concurrency as f64, run.bound_lines_per_sec?)))
            .collect();
        if !bound.is_empty() {
            chart
                .draw_series(DashedLineSeries::new(bound, 6, 4, color.stroke_width(1)))
                .map_err(draw_error)?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(draw_error)?;
    root.present().map_err(draw_error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::bench::{LatencyProfile, RunStatus, Scenario};

    #[test]
    fn draws_each_series_with_its_bound() {
        let results: Vec<RunResult> = [16, 64, 256]
            .into_iter()
            .map(|concurrency| {
                let scenario = Scenario {
                    concurrency,
                    connections: 4,
                    latency: LatencyProfile {
                        base: Duration::from_millis(150),
                        spread: Duration::from_millis(100),
                    },
                    provider_rpm: None,
                    client_limit: None,
                    lines: 1_000,
                };
                let mut run =
                    RunResult::unmeasured(&scenario, RunStatus::Completed { failed_entries: 0 });
                run.lines_per_sec = Some(concurrency as f64 * 4.5);
                run
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chart.svg");
        write_chart(&results, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
        assert!(svg.contains("latency 150-250 ms, no rate limit"));
        assert!(svg.contains("stroke-dasharray") || svg.matches("<polyline").count() >= 2);
    }
}
