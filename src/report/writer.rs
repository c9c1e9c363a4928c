//! The report writer actor: the single owner of a report file. Every append goes through its
//! mailbox, so records are written one at a time and never interleave. A shared server's writer
//! keeps what it knows of its jobs' order beside the report (`REPORT.order.json`) when it stops,
//! and carries on from it when it starts again on the same report.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;

use super::format::ReportFormat;
use super::order::{OrderMemory, OrderPolicy, ReorderBuffer, Resolution};
use crate::files::{sibling, write_atomically};

/// Why the report could not be opened or written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReportWriterError {
    #[error("cannot open report file '{path}' for appending: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error(
        "report file '{path}' is written in the {existing} format, not {wanted}: pass \
         --format {existing}, or choose another --report"
    )]
    FormatMismatch {
        path: PathBuf,
        existing: ReportFormat,
        wanted: ReportFormat,
    },
    #[error(
        "report file '{path}' is not empty and is not a {wanted} report of log-archiver; choose \
         another --report"
    )]
    NotAReport { path: PathBuf, wanted: ReportFormat },
    #[error("cannot write to report file '{path}': {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("the report writer has stopped")]
    Stopped,
}

/// Messages the writer actor understands.
enum WriterMessage {
    /// Append one whole record at once (a call without ordering information).
    Append {
        record: String,
        reply: RpcReplyPort<Result<(), ReportWriterError>>,
    },
    /// Resolve entry `seq` of `job` with a record or as a skip; records are written in order.
    Resolve {
        job: String,
        seq: u64,
        record: Option<String>,
        reply: RpcReplyPort<Result<Resolution, ReportWriterError>>,
    },
    /// Make the report durable and tell its length before `job`'s entry `seq`.
    LengthBefore {
        job: String,
        seq: u64,
        reply: RpcReplyPort<Result<u64, ReportWriterError>>,
    },
    /// Pass over gaps that waited too long.
    Expire,
}

struct WriterActor;

struct WriterState {
    path: PathBuf,
    file: File,
    order: ReorderBuffer,
    /// Set by the first failed write; every later request gets it.
    broken: Option<ReportWriterError>,
    /// Keep the jobs' order beside the report when stopping.
    remember: bool,
}

impl WriterState {
    fn write(&mut self, bytes: &[u8]) -> Result<(), ReportWriterError> {
        if let Some(error) = &self.broken {
            return Err(error.clone());
        }
        if bytes.is_empty() {
            return Ok(());
        }
        self.file.write_all(bytes).map_err(|error| {
            let error = ReportWriterError::Write {
                path: self.path.clone(),
                reason: error.to_string(),
            };
            tracing::error!(%error, "the report can no longer be written");
            self.broken = Some(error.clone());
            error
        })
    }
}

/// How often stuck gaps are looked for.
const EXPIRE_INTERVAL: Duration = Duration::from_secs(1);

impl Actor for WriterActor {
    type Msg = WriterMessage;
    type State = WriterState;
    type Arguments = (PathBuf, File, OrderPolicy);

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        (path, file, policy): Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let report_len = file.metadata()?.len();
        myself.send_interval(EXPIRE_INTERVAL, || WriterMessage::Expire);
        let order = match remembered_order(&path, policy, report_len) {
            Some(memory) => ReorderBuffer::remembering(policy, memory, Instant::now()),
            None => ReorderBuffer::new(policy, report_len),
        };
        Ok(WriterState {
            path,
            file,
            order,
            broken: None,
            remember: policy.remember_across_restarts,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let mut out = Vec::new();
        match message {
            WriterMessage::Append { record, reply } => {
                state.order.append_unordered(record, &mut out);
                // The caller may have given up waiting; the record is written either way.
                let _ = reply.send(state.write(&out));
            }
            WriterMessage::Resolve {
                job,
                seq,
                record,
                reply,
            } => {
                let resolution = state
                    .order
                    .resolve(&job, seq, record, Instant::now(), &mut out);
                let _ = reply.send(state.write(&out).map(|()| resolution));
            }
            WriterMessage::LengthBefore { job, seq, reply } => {
                let outcome = match &state.broken {
                    Some(error) => Err(error.clone()),
                    None => state
                        .file
                        .sync_data()
                        .map(|()| state.order.length_before(&job, seq))
                        .map_err(|error| ReportWriterError::Write {
                            path: state.path.clone(),
                            reason: error.to_string(),
                        }),
                };
                let _ = reply.send(outcome);
            }
            WriterMessage::Expire => {
                state.order.expire(Instant::now(), &mut out);
                let _ = state.write(&out);
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let mut out = Vec::new();
        state.order.flush_on_stop(Instant::now(), &mut out);
        let written = state.write(&out);
        state.file.flush()?;
        if state.remember && written.is_ok() {
            let memory = serde_json::to_vec(&state.order.memory()).expect("memory serializes");
            if let Err(error) = write_atomically(&order_memory_path(&state.path), &memory) {
                tracing::warn!(%error, "cannot keep the jobs' order for a restart");
            }
        }
        Ok(())
    }
}

/// Where a report's order memory is kept.
fn order_memory_path(report: &Path) -> PathBuf {
    sibling(report, ".order.json")
}

/// The order memory an earlier run of the writer left, if the policy keeps one and the report
/// has not changed since.
fn remembered_order(report: &Path, policy: OrderPolicy, report_len: u64) -> Option<OrderMemory> {
    if !policy.remember_across_restarts {
        return None;
    }
    let path = order_memory_path(report);
    let text = std::fs::read(&path).ok()?;
    match serde_json::from_slice::<OrderMemory>(&text) {
        Ok(memory) if memory.report_len == report_len => Some(memory),
        Ok(_) => {
            tracing::warn!(
                path = %path.display(),
                "the report changed since its order was kept; earlier jobs start afresh"
            );
            None
        }
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "ignoring an unreadable order memory");
            None
        }
    }
}

/// Opens (creating if needed) a report for appending in `format`: an empty report gets the
/// format's preamble; a report already written in another format, and a structured report onto
/// a file that is not one, are refused. Only regular files are looked into: a pipe or a device
/// such as /dev/stdout is appended to as it is.
fn open_report(path: &Path, format: ReportFormat) -> Result<File, ReportWriterError> {
    let open_failed = |error: std::io::Error| ReportWriterError::Open {
        path: path.to_path_buf(),
        reason: error.to_string(),
    };
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(open_failed)?;
    let metadata = file.metadata().map_err(open_failed)?;
    if !metadata.is_file() {
        return Ok(file);
    }
    if metadata.len() == 0 {
        file.write_all(format.preamble().as_bytes())
            .map_err(open_failed)?;
        return Ok(file);
    }
    let existing = report_start(path).and_then(|start| ReportFormat::detect(&start));
    match existing {
        Some(existing) if existing != format => Err(ReportWriterError::FormatMismatch {
            path: path.to_path_buf(),
            existing,
            wanted: format,
        }),
        None if format != ReportFormat::Text => Err(ReportWriterError::NotAReport {
            path: path.to_path_buf(),
            wanted: format,
        }),
        _ => Ok(file),
    }
}

/// The first bytes of a report, when it can be read (a write-only report cannot).
fn report_start(path: &Path) -> Option<Vec<u8>> {
    let mut start = Vec::new();
    File::open(path)
        .and_then(|file| file.take(4096).read_to_end(&mut start))
        .ok()?;
    Some(start)
}

/// A handle to a running report writer.
#[derive(Clone)]
pub struct ReportWriter {
    actor: ActorRef<WriterMessage>,
    path: PathBuf,
    format: ReportFormat,
}

impl ReportWriter {
    /// Opens (creating if needed) the report for appending and starts its writer actor. A path
    /// that cannot be written, or a report in another format, fails here, before any work is
    /// accepted.
    pub async fn start(
        path: &Path,
        policy: OrderPolicy,
        format: ReportFormat,
    ) -> Result<(Self, JoinHandle<()>), ReportWriterError> {
        let file = open_report(path, format)?;
        let (actor, join) = Actor::spawn(None, WriterActor, (path.to_path_buf(), file, policy))
            .await
            .map_err(|error| ReportWriterError::Open {
                path: path.to_path_buf(),
                reason: error.to_string(),
            })?;
        let join = tokio::spawn(async move {
            let _ = join.await;
        });
        Ok((
            Self {
                actor,
                path: path.to_path_buf(),
                format,
            },
            join,
        ))
    }

    /// The report file this writer appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format records are written in: callers render their records with it.
    pub fn format(&self) -> ReportFormat {
        self.format
    }

    /// Appends one whole record.
    pub async fn append(&self, record: String) -> Result<(), ReportWriterError> {
        let reply = ractor::call!(self.actor, |reply| WriterMessage::Append { record, reply });
        reply.map_err(|_| ReportWriterError::Stopped)?
    }

    /// Resolves entry `seq` of `job`: with a record, written in the job's input order, or as a
    /// skip (`None`) so later entries need not wait for it.
    pub async fn resolve(
        &self,
        job: &str,
        seq: u64,
        record: Option<String>,
    ) -> Result<Resolution, ReportWriterError> {
        let job = job.to_string();
        let reply = ractor::call!(self.actor, |reply| WriterMessage::Resolve {
            job,
            seq,
            record,
            reply
        });
        reply.map_err(|_| ReportWriterError::Stopped)?
    }

    /// Makes the report durable and returns its length just before `job`'s entry `seq`: the
    /// cut a checkpoint records.
    pub async fn length_before(&self, job: &str, seq: u64) -> Result<u64, ReportWriterError> {
        let job = job.to_string();
        let reply = ractor::call!(self.actor, |reply| WriterMessage::LengthBefore {
            job,
            seq,
            reply
        });
        reply.map_err(|_| ReportWriterError::Stopped)?
    }

    /// Stops the writer once every request already sent has been handled; records still
    /// waiting for a gap are written or dropped as the order policy says.
    pub fn stop(&self) {
        let _ = self.actor.drain();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::format_record;

    /// A writer of a text report at `path`.
    async fn start_text(path: &Path, policy: OrderPolicy) -> (ReportWriter, JoinHandle<()>) {
        ReportWriter::start(path, policy, ReportFormat::Text)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn resolved_records_land_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.txt");
        let (writer, join) = start_text(&path, OrderPolicy::job_owned()).await;
        writer.resolve("job", 2, Some("c\n".into())).await.unwrap();
        writer.resolve("job", 0, Some("a\n".into())).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\n");
        writer.resolve("job", 1, None).await.unwrap();
        assert_eq!(writer.length_before("job", 2).await.unwrap(), 2);
        let again = writer.resolve("job", 2, Some("c\n".into())).await.unwrap();
        assert_eq!(again, Resolution::AlreadyWritten);
        writer.stop();
        join.await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nc\n");
    }

    #[tokio::test]
    async fn a_restarted_shared_writer_remembers_its_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.txt");
        let policy = OrderPolicy::shared_server(Duration::from_secs(60));
        let (writer, join) = start_text(&path, policy).await;
        writer.resolve("job", 0, Some("a\n".into())).await.unwrap();
        writer.resolve("job", 2, Some("c\n".into())).await.unwrap();
        writer.stop();
        join.await.unwrap();
        // Stopping wrote what waited for entry 1, passing over its gap.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nc\n");

        let (writer, join) = start_text(&path, policy).await;
        let again = writer.resolve("job", 2, Some("c\n".into())).await.unwrap();
        assert_eq!(again, Resolution::AlreadyWritten, "not written twice");
        let late = writer.resolve("job", 1, Some("b\n".into())).await.unwrap();
        assert_eq!(late, Resolution::Accepted, "written late, once");
        let next = writer.resolve("job", 3, Some("d\n".into())).await.unwrap();
        assert_eq!(next, Resolution::Accepted);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a\nc\nb\nd\n",
            "entry 3 did not wait for entries 0 to 2 again"
        );
        writer.stop();
        join.await.unwrap();

        // A report changed behind the server's back makes the memory stale.
        std::fs::write(&path, "edited\n").unwrap();
        let (writer, join) = start_text(&path, policy).await;
        writer.resolve("job", 0, Some("a\n".into())).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "edited\na\n");
        writer.stop();
        join.await.unwrap();
    }

    #[tokio::test]
    async fn concurrent_appends_produce_whole_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.txt");
        let (writer, join) = start_text(&path, OrderPolicy::job_owned()).await;
        let tasks: Vec<_> = (0..100)
            .map(|i| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    writer
                        .append(format_record(
                            &format!("line {i}"),
                            &format!("analysis {i}"),
                        ))
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        writer.stop();
        join.await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let records: Vec<&str> = text
            .split_inclusive("------------------------------\n")
            .collect();
        assert_eq!(records.len(), 100);
        for record in records {
            let lines: Vec<&str> = record.lines().collect();
            assert_eq!(lines[0], "--- INCIDENT REPORT ---");
            let n = lines[1].strip_prefix("RAW: line ").unwrap();
            assert_eq!(lines[2], format!("ANALYSIS: analysis {n}"));
        }
    }

    #[tokio::test]
    async fn unwritable_path_fails_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing-dir").join("report.txt");
        let error = ReportWriter::start(&path, OrderPolicy::job_owned(), ReportFormat::Text)
            .await
            .err()
            .unwrap();
        assert!(
            error.to_string().contains("cannot open report file"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_csv_report_gets_its_header_once_and_other_formats_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.csv");
        for _ in 0..2 {
            let (writer, join) =
                ReportWriter::start(&path, OrderPolicy::job_owned(), ReportFormat::Csv)
                    .await
                    .unwrap();
            writer.append("row\n".into()).await.unwrap();
            writer.stop();
            join.await.unwrap();
        }
        let header = ReportFormat::Csv.preamble();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{header}row\nrow\n")
        );
        let error = ReportWriter::start(&path, OrderPolicy::job_owned(), ReportFormat::Jsonl)
            .await
            .err()
            .unwrap();
        assert!(
            error
                .to_string()
                .contains("written in the csv format, not jsonl"),
            "{error}"
        );

        let foreign = dir.path().join("notes.csv");
        std::fs::write(&foreign, "name,age\n").unwrap();
        let error = ReportWriter::start(&foreign, OrderPolicy::job_owned(), ReportFormat::Csv)
            .await
            .err()
            .unwrap();
        assert!(error.to_string().contains("not a csv report"), "{error}");
        assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "name,age\n");
    }
}
