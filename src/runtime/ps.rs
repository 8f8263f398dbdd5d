use super::Container;
use crate::cli::ListFormat;
use crate::error::{Error, Result};
use crate::store::Store;

/// `ps`: the container's host pids as JSON, or the host's `ps` output (default `-ef`)
/// narrowed to the container's processes.
pub fn ps(store: &Store, id: &str, format: ListFormat, ps_args: &[String]) -> Result<String> {
    let c = Container::open(store, id)?;
    let cg = c
        .cgroup()
        .ok_or_else(|| Error::Usage(format!("container {id} has no cgroup")))?;
    let mut pids = cg.pids()?;
    pids.sort_unstable();
    if format == ListFormat::Json {
        return serde_json::to_string(&pids)
            .map(|s| s + "\n")
            .map_err(|e| Error::Usage(e.to_string()));
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(Error::io("running ps"))?;
    if !out.status.success() {
        return Err(Error::Usage(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)
}

/// Keep the header and the lines whose PID column holds one of `pids`.
pub fn filter_ps(text: &str, pids: &[i32]) -> Result<String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::Usage("ps output has no PID column".into()))?;
    let mut out = format!("{header}\n");
    for l in lines {
        if let Some(pid) = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
        {
            if pids.contains(&pid) {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_the_pid_column() {
        let text = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 00:00 ? 00:00:01 init\nroot 42 1 0 00:00 ? 00:00:00 sleep 42\nroot 420 1 0 00:00 ? 00:00:00 sh\n";
        assert_eq!(
            filter_ps(text, &[42]).unwrap(),
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 00:00 ? 00:00:00 sleep 42\n"
        );
        assert!(filter_ps("USER COMMAND\n", &[1]).is_err());
    }
}
