//! Log lines in runc's shapes: `--log-format json` writes
//! `{"level":"error","msg":"...","time":"..."}`, text writes logrus's
//! `time="..." level=error msg="..."`. Without `--log`, lines go to stderr.
//! Errors are logged once, in main; everywhere else adds context to the error.

use crate::cli::LogFormat;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
        }
    }
}

struct Logger {
    file: Option<Mutex<File>>,
    format: LogFormat,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Set up logging from the global flags. A log file that cannot be opened is reported
/// on stderr and logging falls back to stderr.
pub fn init(path: Option<&Path>, format: LogFormat, debug: bool) {
    let file = path.and_then(|p| {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            Ok(f) => Some(Mutex::new(f)),
            Err(e) => {
                eprintln!("berth: cannot open log file {}: {e}", p.display());
                None
            }
        }
    });
    let _ = LOGGER.set(Logger {
        file,
        format,
        debug,
    });
}

/// One formatted line (without the newline).
pub fn format_line(format: LogFormat, level: Level, msg: &str, time: &str) -> String {
    match format {
        LogFormat::Json => {
            serde_json::json!({"level": level.as_str(), "msg": msg, "time": time}).to_string()
        }
        LogFormat::Text => format!(
            "time={} level={} msg={}",
            serde_json::Value::from(time),
            level.as_str(),
            serde_json::Value::from(msg)
        ),
    }
}

pub fn log(level: Level, msg: &str) {
    let Some(l) = LOGGER.get() else {
        if level >= Level::Warn {
            eprintln!("berth: {msg}");
        }
        return;
    };
    if level == Level::Debug && !l.debug {
        return;
    }
    let line = format_line(l.format, level, msg, &crate::state::now_rfc3339());
    match &l.file {
        Some(f) => {
            if let Ok(mut f) = f.lock() {
                let _ = writeln!(f, "{line}");
            }
        }
        None => {
            // Errors reach stderr in main; warnings and debug lines need it here.
            if level != Level::Error {
                eprintln!("{line}");
            }
        }
    }
}

pub fn warn(msg: &str) {
    log(Level::Warn, msg)
}

pub fn debug(msg: &str) {
    log(Level::Debug, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_has_runc_keys() {
        let l = format_line(LogFormat::Json, Level::Error, "boom \"x\"", "T");
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert_eq!(v["time"], "T");
    }

    #[test]
    fn text_line_is_logrus_shaped() {
        let l = format_line(LogFormat::Text, Level::Warn, "a b", "T");
        assert_eq!(l, "time=\"T\" level=warning msg=\"a b\"");
    }
}
