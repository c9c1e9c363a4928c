//! The report writer actor: the single owner of a report file. Every append goes through its
//! mailbox, so records are written one at a time and never interleave.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::task::JoinHandle;

/// Why the report could not be opened or written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReportWriterError {
    #[error("cannot open report file '{path}' for appending: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("cannot write to report file '{path}': {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("the report writer has stopped")]
    Stopped,
}

/// Messages the writer actor understands.
pub enum WriterMessage {
    /// Append one whole record and answer once it is handed to the operating system.
    Append {
        record: String,
        reply: RpcReplyPort<Result<(), ReportWriterError>>,
    },
}

struct WriterActor;

struct WriterState {
    path: PathBuf,
    file: File,
}

impl Actor for WriterActor {
    type Msg = WriterMessage;
    type State = WriterState;
    type Arguments = (PathBuf, File);

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        (path, file): Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(WriterState { path, file })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            WriterMessage::Append { record, reply } => {
                let outcome = state.file.write_all(record.as_bytes()).map_err(|error| {
                    ReportWriterError::Write {
                        path: state.path.clone(),
                        reason: error.to_string(),
                    }
                });
                // The caller may have given up waiting; the record is written either way.
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        state.file.flush()?;
        Ok(())
    }
}

/// A handle to a running report writer.
#[derive(Clone)]
pub struct ReportWriter {
    actor: ActorRef<WriterMessage>,
    path: PathBuf,
}

impl ReportWriter {
    /// Opens (creating if needed) the report for appending and starts its writer actor. A path
    /// that cannot be written fails here, before any work is accepted.
    pub async fn start(path: &Path) -> Result<(Self, JoinHandle<()>), ReportWriterError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|error| ReportWriterError::Open {
                path: path.to_path_buf(),
                reason: error.to_string(),
            })?;
        let (actor, join) = Actor::spawn(None, WriterActor, (path.to_path_buf(), file))
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
            },
            join,
        ))
    }

    /// The report file this writer appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one whole record.
    pub async fn append(&self, record: String) -> Result<(), ReportWriterError> {
        let reply = ractor::call!(self.actor, |reply| WriterMessage::Append { record, reply });
        reply.map_err(|_| ReportWriterError::Stopped)?
    }

    /// Stops the writer once every record already sent has been written.
    pub fn stop(&self) {
        self.actor.stop(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::format_record;

    #[tokio::test]
    async fn concurrent_appends_produce_whole_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.txt");
        let (writer, join) = ReportWriter::start(&path).await.unwrap();
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
        let error = ReportWriter::start(&path).await.err().unwrap();
        assert!(
            error.to_string().contains("cannot open report file"),
            "{error}"
        );
    }
}
