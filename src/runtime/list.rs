use super::Container;
use crate::cli::ListFormat;
use crate::error::{Error, Result};
use crate::store::Store;

pub fn list(store: &Store, format: ListFormat, quiet: bool) -> Result<String> {
    let mut rows = Vec::new();
    for id in store.ids()? {
        // A container deleted while we list is simply not listed.
        let Ok(c) = Container::open(store, id.as_str()) else {
            continue;
        };
        let status = c.status();
        rows.push(match &c.record {
            Some(r) => serde_json::to_value(r.public(status)),
            None => Ok(serde_json::json!({"id": id.as_str(), "pid": 0, "status": status, "bundle": "", "created": "", "owner": ""})),
        }
        .map_err(|e| Error::Usage(e.to_string()))?);
    }
    if quiet {
        return Ok(rows
            .iter()
            .filter_map(|r| r["id"].as_str().map(|s| format!("{s}\n")))
            .collect());
    }
    match format {
        ListFormat::Json => serde_json::to_string(&rows)
            .map(|s| s + "\n")
            .map_err(|e| Error::Usage(e.to_string())),
        ListFormat::Table => Ok(table(&rows)),
    }
}

/// runc's columns, padded like Go's tabwriter.
fn table(rows: &[serde_json::Value]) -> String {
    let cols = ["id", "pid", "status", "bundle", "created", "owner"];
    let mut cells: Vec<Vec<String>> = vec![cols.iter().map(|c| c.to_uppercase()).collect()];
    for r in rows {
        cells.push(
            cols.iter()
                .map(|c| match &r[*c] {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    v => v.to_string(),
                })
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..cols.len())
        .map(|i| cells.iter().map(|row| row[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in cells {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i] + 3))
            .collect();
        out.push_str(line.concat().trim_end());
        out.push('\n');
    }
    out
}
