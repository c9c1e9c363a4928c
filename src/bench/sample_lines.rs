//! Realistic, distinct log lines for benchmarks: a mix of formats (application, sshd, Apache,
//! HDFS, JSON, Windows paths, Kafka) and lengths, a few with characters the report escapes.

/// Line number `i` of a generated log; different `i` give different lines.
pub fn sample_log_line(i: usize) -> String {
    match i % 8 {
        0 => format!(
            "2026-11-29T10:{:02}:{:02}.{:03}Z ERROR [db-pool-{}] connection {i} to 10.0.{}.{}:5432 timed out after {} ms",
            i / 60 % 60,
            i % 60,
            i % 1000,
            i % 16,
            i % 256,
            (i * 7) % 256,
            1000 + i % 9000
        ),
        1 => format!(
            "Nov 29 10:00:{:02} web-{} sshd[{}]: Failed password for invalid user admin from 203.0.113.{} port {} ssh2",
            i % 60,
            i % 8,
            20000 + i,
            i % 256,
            30000 + i % 30000
        ),
        2 => format!(
            "[Sun Dec 04 04:47:{:02} 2005] [error] mod_jk child workerEnv {i} in error state {}",
            i % 60,
            i % 10
        ),
        3 => format!(
            "081109 2036{:02} {} WARN dfs.DataNode$PacketResponder: PacketResponder {} for block blk_{} terminating",
            i % 60,
            i % 1000,
            i % 3,
            -1_608_999_687_919_862_906_i64 + i as i64
        ),
        4 => format!(
            "{{\"ts\":\"2026-11-29T10:00:{:02}Z\",\"level\":\"error\",\"service\":\"checkout\",\"trace_id\":\"{:032x}\",\"msg\":\"payment provider returned 502\",\"attempt\":{},\"latency_ms\":{},\"path\":\"/api/v2/orders/{}/pay\",\"user_agent\":\"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36\"}}",
            i % 60,
            i * 2_654_435_761,
            i % 5,
            200 + i % 3000,
            100_000 + i
        ),
        5 => format!(
            "ERROR C:\\Services\\Ingest\\worker.exe exited with code {} (see C:\\Logs\\ingest-{i}.log)",
            i % 255
        ),
        6 => format!(
            "WARN cache {i} miss ratio {}%\tabove threshold",
            50 + i % 50
        ),
        _ => format!(
            "2026-11-29 10:00:{:02},{:03} ERROR [main] o.a.k.c.NetworkClient - [Consumer clientId=consumer-{i}, groupId=billing] Connection to node {} (broker-{}.internal/10.1.{}.{}:9092) could not be established. Broker may not be available.",
            i % 60,
            i % 1000,
            i % 3,
            i % 3,
            i % 256,
            i % 200
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_distinct_and_single() {
        let lines: std::collections::HashSet<String> = (0..5_000).map(sample_log_line).collect();
        assert_eq!(lines.len(), 5_000);
        assert!(lines.iter().all(|line| !line.contains('\n')));
    }
}
