//! The audit log: one JSON line per run start, host call and run end,
//! hash-chained so that an edit, a deletion or a truncation is detected.
//!
//! Each line carries `seq` (its position), `prev` (the previous line's hash)
//! and `hash`: the sha256 of the line serialised without `hash`. An edited
//! line no longer matches its hash; a deleted line breaks the next line's
//! `prev` and the `seq` run. Cutting lines off the end leaves a valid
//! chain, so the log keeps its head (count and last hash) in a second file,
//! `<log>.head`, rewritten after every line; `host audit verify` compares the
//! two. Someone able to rewrite both files consistently can forge history;
//! ship the lines to a store they cannot write for that.
//!
//! No secret ever reaches a record: records are built from operation names,
//! scopes, counts, statuses and the plugin's identity, never from request
//! headers or bodies.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Write as _};
use std::path::{Path, PathBuf};

use crate::manifest::sha256_hex;
use anyhow::Context as _;
use serde_json::{Map, Value, json};

/// The `prev` of the first line.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An open audit log, appending.
#[derive(Debug)]
pub(crate) struct AuditLog {
    path: PathBuf,
    file: File,
    seq: u64,
    last_hash: String,
}

impl AuditLog {
    /// The default path: `$XDG_STATE_HOME/falcon-plugin-host/audit.jsonl`, else
    /// `~/.local/state/falcon-plugin-host/audit.jsonl`.
    pub(crate) fn default_path() -> Option<PathBuf> {
        let base = crate::config::user_dir("XDG_STATE_HOME", &[".local", "state"])?;
        Some(base.join("falcon-plugin-host").join("audit.jsonl"))
    }

    /// Opens the log for appending, continuing its chain. The existing log is
    /// verified first: appending to a broken chain would bury the break.
    ///
    /// # Errors
    ///
    /// The log cannot be opened, or its chain is broken.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create `{}`", dir.display()))?;
        }
        let report = verify(path)?;
        if let Some(problem) = report.problems.first() {
            anyhow::bail!(
                "the audit log `{}` fails verification ({problem}); run `host audit verify {}` \
                 and move the log aside before new runs append to it",
                path.display(),
                path.display()
            );
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("failed to open the audit log `{}`", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            file,
            seq: report.lines,
            last_hash: report.last_hash,
        })
    }

    /// Appends one record and makes it durable before returning, so that a
    /// write's intent is on disk before its request leaves.
    ///
    /// # Errors
    ///
    /// The line or the head file cannot be written.
    pub(crate) fn append(&mut self, record: Value) -> anyhow::Result<()> {
        let Value::Object(mut fields) = record else {
            anyhow::bail!("an audit record must be a JSON object");
        };
        fields.insert("seq".into(), json!(self.seq));
        fields.insert("time".into(), json!(jiff::Timestamp::now().to_string()));
        fields.insert("prev".into(), json!(self.last_hash));
        let hash = hash_of(&fields);
        fields.insert("hash".into(), json!(hash));

        let mut line = Value::Object(fields).to_string();
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .with_context(|| {
                format!(
                    "failed to append to the audit log `{}`",
                    self.path.display()
                )
            })?;
        self.seq += 1;
        self.last_hash = hash;
        write_head(&self.path, self.seq, &self.last_hash)
    }
}

/// The audit trail of one run: the shared log plus the fields every record
/// of the run carries.
#[derive(Debug, Clone)]
pub(crate) struct RunAudit {
    log: std::sync::Arc<std::sync::Mutex<AuditLog>>,
    run_id: String,
    plugin: String,
    digest: String,
}

impl RunAudit {
    /// Starts the trail of a run of `plugin` (sha256 `digest`).
    pub(crate) fn new(log: AuditLog, plugin: &str, digest: &str) -> Self {
        let seed = format!(
            "{}-{}-{digest}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        );
        let run_id = sha256_hex(seed.as_bytes())[..16].to_owned();
        Self {
            log: std::sync::Arc::new(std::sync::Mutex::new(log)),
            run_id,
            plugin: plugin.to_owned(),
            digest: digest.to_owned(),
        }
    }

    /// The run's id, as it appears in every record.
    pub(crate) fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Appends an `event` record with `fields` and the run's identity.
    ///
    /// # Errors
    ///
    /// The log cannot be written; the caller must not go on unaudited.
    pub(crate) fn record(&self, event: &str, fields: Value) -> anyhow::Result<()> {
        let mut record = match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        record.insert("event".into(), json!(event));
        record.insert("run".into(), json!(self.run_id));
        record.insert("plugin".into(), json!(self.plugin));
        record.insert("digest".into(), json!(self.digest));
        let mut log = self
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        log.append(Value::Object(record))
    }
}

/// The hash of a record: sha256 of its JSON without the `hash` field, keys
/// in sorted order (serde_json's map is ordered by key).
fn hash_of(fields: &Map<String, Value>) -> String {
    let mut without = fields.clone();
    without.remove("hash");
    sha256_hex(Value::Object(without).to_string().as_bytes())
}

fn head_path(log: &Path) -> PathBuf {
    let mut name = log
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".head");
    log.with_file_name(name)
}

fn write_head(log: &Path, lines: u64, last_hash: &str) -> anyhow::Result<()> {
    let head = head_path(log);
    let tmp = head.with_extension("head.tmp");
    std::fs::write(&tmp, format!("{lines} {last_hash}\n"))
        .and_then(|()| std::fs::rename(&tmp, &head))
        .with_context(|| format!("failed to update `{}`", head.display()))
}

/// What verification found.
#[derive(Debug, Default)]
pub(crate) struct Verification {
    /// Lines read.
    pub(crate) lines: u64,
    /// The hash of the last good line.
    pub(crate) last_hash: String,
    /// Each problem, naming the line.
    pub(crate) problems: Vec<String>,
    /// How many lines the sequence numbers say there should be.
    pub(crate) expected_lines: u64,
}

/// Verifies the chain of the log at `path` against itself and its head
/// file. A missing log with no head is an empty, valid log.
///
/// # Errors
///
/// The log exists but cannot be read.
pub(crate) fn verify(path: &Path) -> anyhow::Result<Verification> {
    let mut report = Verification {
        last_hash: GENESIS.into(),
        ..Verification::default()
    };
    let head = match std::fs::read_to_string(head_path(path)) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).context("failed to read the audit head file"),
    };
    let file = match File::open(path) {
        Ok(file) => Some(file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(e).with_context(|| format!("failed to read `{}`", path.display()));
        }
    };
    if let Some(file) = file {
        check_lines(BufReader::new(file), &mut report)?;
    }
    check_head(head.as_deref(), &mut report);
    Ok(report)
}

fn check_lines(reader: impl std::io::BufRead, report: &mut Verification) -> anyhow::Result<()> {
    let mut expected_prev = GENESIS.to_owned();
    let mut expected_seq: u64 = 0;
    for (index, line) in reader.lines().enumerate() {
        let number = index + 1;
        let line = line.context("failed to read the audit log")?;
        report.lines += 1;
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&line) else {
            report.problems.push(format!(
                "line {number} is not a JSON object (cut or edited)"
            ));
            expected_seq += 1;
            continue;
        };
        let seq = fields.get("seq").and_then(Value::as_u64);
        match seq {
            Some(seq) if seq == expected_seq => {}
            Some(seq) if seq > expected_seq => {
                let gone = seq - expected_seq;
                report.problems.push(format!(
                    "{} before line {number} {} deleted (seq jumps from {} to {seq})",
                    if gone == 1 {
                        "1 line".to_owned()
                    } else {
                        format!("{gone} lines")
                    },
                    if gone == 1 { "was" } else { "were" },
                    expected_seq.saturating_sub(1)
                ));
            }
            other => report.problems.push(format!(
                "line {number} has seq {} where {expected_seq} was expected (lines were moved \
                 or inserted)",
                other.map_or("none".into(), |s| s.to_string())
            )),
        }
        // Resynchronise on the line's own seq, so one deletion is reported
        // once rather than on every later line.
        expected_seq = seq.map_or(expected_seq, |s| s.max(expected_seq)) + 1;
        let prev = fields.get("prev").and_then(Value::as_str).unwrap_or("");
        if prev != expected_prev {
            report.problems.push(format!(
                "line {number} does not follow line {index}: the chain is broken (a line was \
                 deleted, inserted or edited)"
            ));
        }
        let recorded = fields
            .get("hash")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if recorded != hash_of(&fields) {
            report
                .problems
                .push(format!("line {number} was edited: its hash does not match"));
        }
        // Chain on the recorded hash so one edit is reported once, not on
        // every later line.
        expected_prev = recorded;
        report.last_hash = expected_prev.clone();
    }
    report.expected_lines = expected_seq;
    Ok(())
}

fn check_head(head: Option<&str>, report: &mut Verification) {
    let Some(head) = head else {
        if report.lines > 0 {
            report
                .problems
                .push("the head file is missing; truncation cannot be ruled out".into());
        }
        return;
    };
    let mut parts = head.split_whitespace();
    let count = parts.next().and_then(|c| c.parse::<u64>().ok());
    let hash = parts.next();
    match (count, hash) {
        (Some(count), Some(hash)) => {
            if count > report.expected_lines {
                report.problems.push(format!(
                    "the log was truncated: the head records {count} lines, the log has {}",
                    report.lines
                ));
            } else if count < report.expected_lines {
                report.problems.push(format!(
                    "the log has {} lines but the head records {count}: lines were appended \
                     outside the host",
                    report.lines
                ));
            } else if hash != report.last_hash {
                report
                    .problems
                    .push("the last line does not match the head's hash".into());
            }
        }
        _ => report.problems.push("the head file is malformed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("host-audit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("audit.jsonl")
    }

    fn write_three(path: &Path) {
        let mut log = AuditLog::open(path).unwrap();
        for n in 0..3 {
            log.append(json!({"event": "call", "n": n})).unwrap();
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn an_untouched_log_verifies_and_reopens_on_its_chain() {
        let path = scratch("ok");
        write_three(&path);
        let mut log = AuditLog::open(&path).unwrap();
        log.append(json!({"event": "more"})).unwrap();
        let report = verify(&path).unwrap();
        assert_eq!(report.lines, 4);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
    }

    #[test]
    fn an_edit_is_detected() {
        let path = scratch("edit");
        write_three(&path);
        let edited = lines(&path).join("\n").replacen("\"n\":1", "\"n\":7", 1) + "\n";
        std::fs::write(&path, edited).unwrap();
        let report = verify(&path).unwrap();
        assert_eq!(
            report.problems,
            ["line 2 was edited: its hash does not match"]
        );
        assert!(
            AuditLog::open(&path).is_err(),
            "a broken log must not be appended to"
        );
    }

    #[test]
    fn a_deletion_is_detected() {
        let path = scratch("delete");
        write_three(&path);
        let mut kept = lines(&path);
        kept.remove(1);
        std::fs::write(&path, kept.join("\n") + "\n").unwrap();
        let problems = verify(&path).unwrap().problems;
        assert_eq!(
            problems,
            [
                "1 line before line 2 was deleted (seq jumps from 0 to 2)",
                "line 2 does not follow line 1: the chain is broken (a line was deleted, \
                 inserted or edited)"
            ]
        );
    }

    #[test]
    fn a_truncation_is_detected() {
        let path = scratch("truncate");
        write_three(&path);
        let mut kept = lines(&path);
        kept.pop();
        std::fs::write(&path, kept.join("\n") + "\n").unwrap();
        let problems = verify(&path).unwrap().problems;
        assert_eq!(
            problems,
            ["the log was truncated: the head records 3 lines, the log has 2"]
        );

        // Cutting mid-line leaves a fragment that is not JSON.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() - 20]).unwrap();
        let problems = verify(&path).unwrap().problems.join("; ");
        assert!(
            problems.contains("line 2 is not a JSON object"),
            "{problems}"
        );
    }
}
