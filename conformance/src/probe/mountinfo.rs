//! /proc/self/mountinfo (proc(5)) parsing.

#[derive(Debug, Clone)]
pub struct Mount {
    pub mount_point: String,
    /// Per-mount options: ro/rw, nosuid, nodev, noexec, relatime, ...
    pub opts: Vec<String>,
    /// Optional fields: shared:N, master:N, propagate_from:N, unbindable.
    pub optional: Vec<String>,
    pub fstype: String,
    /// The root of the mount within its filesystem (field 4).
    pub root: String,
    /// Super options: for cgroup v1, the hierarchy's controllers.
    pub super_opts: Vec<String>,
}

impl Mount {
    pub fn has_opt(&self, o: &str) -> bool {
        self.opts.iter().any(|x| x == o)
    }

    pub fn has_tag(&self, prefix: &str) -> bool {
        self.optional.iter().any(|x| x.starts_with(prefix))
    }
}

/// Undo the octal escapes (\040 for space etc.) the kernel uses.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let l: Vec<&str> = left.split(' ').collect();
    let r: Vec<&str> = right.split(' ').collect();
    if l.len() < 6 || r.len() < 3 {
        return None;
    }
    Some(Mount {
        mount_point: unescape(l[4]),
        opts: l[5].split(',').map(str::to_string).collect(),
        optional: l[6..].iter().map(|s| s.to_string()).collect(),
        fstype: r[0].to_string(),
        root: unescape(l[3]),
        super_opts: r[2].split(',').map(str::to_string).collect(),
    })
}

pub fn read() -> Result<Vec<Mount>, String> {
    let text =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| format!("mountinfo: {e}"))?;
    Ok(text.lines().filter_map(parse_line).collect())
}

/// Make a destination comparable with mountinfo: absolute (relative paths are
/// relative to "/"), no `.`/empty components, symlinks inside the container
/// resolved when the path exists.
pub fn normalize(dest: &str) -> String {
    let abs = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("/{dest}")
    };
    if let Ok(p) = std::fs::canonicalize(&abs) {
        return p.display().to_string();
    }
    let parts: Vec<&str> = abs
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

/// The index and entry of the topmost mount at `path` (the last listed).
pub fn top<'a>(mounts: &'a [Mount], path: &str) -> Option<(usize, &'a Mount)> {
    mounts
        .iter()
        .enumerate()
        .rev()
        .find(|(_, m)| m.mount_point == path)
}
