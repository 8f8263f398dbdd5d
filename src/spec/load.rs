//! Reading config.json from a bundle.
//!
//! Order, each step bounded (SECURITY.md attack 24):
//! 1. open without following a FIFO's block (O_NONBLOCK), refuse anything but a regular
//!    file, stat it against `MAX_CONFIG_BYTES`, then read through a reader that stops at
//!    the cap, so a file that grows after the stat cannot get past it;
//! 2. one streaming pass that stores nothing: every JSON array and object has at most
//!    `MAX_ENTRIES` entries (named by path), and `ociVersion` is 1.x;
//! 3. the typed parse (oci-spec), with errors reworded and naming the JSON path;
//! 4. facts the typed parse loses (a device's missing major/minor);
//! 5. `validate::validate`, inside `load_bundle`, so that no caller can skip it.

use super::{validate, Bundle, SpecError};
use oci_spec::runtime::Spec;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::cell::RefCell;
use std::fmt;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// config.json larger than this is refused before it is parsed (SECURITY.md attack 24).
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// No JSON array or object in config.json may have more entries than this (env, args,
/// mounts, hooks, devices, sysctl, annotations, seccomp syscalls...). Generous for every
/// real config; a million env entries fail here instead of being built in memory.
pub const MAX_ENTRIES: usize = 65536;

/// Load and validate `<dir>/config.json`.
pub fn load_bundle(dir: &Path) -> Result<Bundle, SpecError> {
    let dir = std::fs::canonicalize(dir).map_err(|source| SpecError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join("config.json");
    let bytes = read_config(&path)?;
    let spec = parse_spec(&bytes)?;
    validate::validate(&spec)?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| SpecError::invalid("root", "required on Linux"))?;
    // An absolute root.path replaces `dir` in join(); a relative one is under the bundle.
    let rootfs = dir.join(root.path());
    Ok(Bundle { dir, rootfs, spec })
}

/// Read a config file, refusing more than `MAX_CONFIG_BYTES` whatever the file does
/// while being read.
fn read_config(path: &Path) -> Result<Vec<u8>, SpecError> {
    let io = |source| SpecError::Io {
        path: path.to_path_buf(),
        source,
    };
    // O_NONBLOCK: opening a FIFO planted as config.json must not hang; regular files
    // ignore the flag.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "config.json is not a regular file",
        )));
    }
    let too_large = |size| SpecError::TooLarge {
        path: path.to_path_buf(),
        size,
        max: MAX_CONFIG_BYTES,
    };
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(too_large(meta.len()));
    }
    match read_capped(file, meta.len()).map_err(io)? {
        Ok(bytes) => Ok(bytes),
        Err(read) => Err(too_large(read)),
    }
}

/// Read all of `r`, but never more than one byte past `MAX_CONFIG_BYTES`: the stat is
/// only a fast path, the file may grow (or lie about its size, like /proc files).
/// `Err(n)` when the cap was passed, with the `n` bytes read.
fn read_capped(r: impl Read, size_hint: u64) -> std::io::Result<Result<Vec<u8>, u64>> {
    let mut bytes = Vec::with_capacity(size_hint.min(MAX_CONFIG_BYTES) as usize);
    r.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Ok(Err(bytes.len() as u64));
    }
    Ok(Ok(bytes))
}

/// Parse config.json bytes into a Spec, with errors naming the JSON path. Checks the
/// size cap, the entry-count cap and `ociVersion`; does not run `validate::validate`
/// (`load_bundle` does).
pub fn parse_spec(bytes: &[u8]) -> Result<Spec, SpecError> {
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(SpecError::TooLarge {
            path: PathBuf::from("config.json"),
            size: bytes.len() as u64,
            max: MAX_CONFIG_BYTES,
        });
    }
    let version = shape_pass(bytes)?;
    if let Some(v) = version {
        check_oci_version(&v).map_err(|r| SpecError::invalid("ociVersion", r))?;
    }
    // The rare scheduler fixup goes through a Value and back to bytes, so that Spec is
    // deserialized from one reader type only: each instantiation of its Deserialize
    // tree (through serde_path_to_error) is about 0.35 MiB of the binary.
    let fixed;
    let bytes = if needs_scheduler_fixup(bytes) {
        let mut v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| SpecError::Parse {
                field: "config.json".into(),
                reason: e.to_string(),
            })?;
        fix_scheduler_flags(&mut v);
        fixed = serde_json::to_vec(&v).map_err(|e| SpecError::Parse {
            field: "config.json".into(),
            reason: e.to_string(),
        })?;
        &fixed[..]
    } else {
        bytes
    };
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let spec: Spec = serde_path_to_error::deserialize(de)
        .map_err(|e| friendly(e.path().to_string(), e.inner()))?;
    // oci-spec defaults a missing ociVersion to "".
    if spec.version().is_empty() {
        return Err(SpecError::Parse {
            field: "ociVersion".into(),
            reason: "required".into(),
        });
    }
    check_oci_version(spec.version()).map_err(|r| SpecError::invalid("ociVersion", r))?;
    raw_device_numbers(bytes)?;
    Ok(spec)
}

/// oci-spec 0.10 spells two `process.scheduler.flags` differently from config.md
/// (`SCHED_RESET_ON_FORK`, `SCHED_FLAG_D_L_OVERRUN`); the spec's names are translated.
const SCHED_FLAG_FIXUPS: [(&str, &str); 2] = [
    ("SCHED_FLAG_RESET_ON_FORK", "SCHED_RESET_ON_FORK"),
    ("SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_D_L_OVERRUN"),
];

fn needs_scheduler_fixup(bytes: &[u8]) -> bool {
    SCHED_FLAG_FIXUPS
        .iter()
        .any(|(spec, _)| bytes.windows(spec.len()).any(|w| w == spec.as_bytes()))
}

fn fix_scheduler_flags(v: &mut serde_json::Value) {
    let Some(flags) = v
        .pointer_mut("/process/scheduler/flags")
        .and_then(|f| f.as_array_mut())
    else {
        return;
    };
    for f in flags {
        if let Some((_, crate_name)) = SCHED_FLAG_FIXUPS.iter().find(|(spec, _)| f == spec) {
            *f = serde_json::Value::from(*crate_name);
        }
    }
}

/// `ociVersion` must be a 1.x SemVer: MAJOR.MINOR.PATCH with an optional
/// "-prerelease" and "+build" ("1.0.2-dev", "1.3.0").
pub fn check_oci_version(v: &str) -> Result<(), String> {
    let core = v.split_once('+').map_or(v, |(c, _)| c);
    let (core, pre) = match core.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (core, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |s: &&str| {
        !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s.len() == 1 || !s.starts_with('0'))
    };
    let ident_ok = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    let build = v.split_once('+').map(|(_, b)| b);
    if parts.len() != 3
        || !parts.iter().all(numeric)
        || pre.is_some_and(|p| !ident_ok(p))
        || build.is_some_and(|b| !ident_ok(b))
    {
        return Err(format!("{v:?} is not a SemVer version such as \"1.3.0\""));
    }
    if parts[0] != "1" {
        return Err(format!(
            "version {v:?} is not supported: berth implements the 1.x runtime spec"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- shape pass

/// Where the walk is, kept on the stack; rendered only for an error, in
/// serde_path_to_error's format ("process.env[3]").
enum Seg<'a> {
    Root,
    Key(&'a Seg<'a>, &'a str),
    Index(&'a Seg<'a>, usize),
}

impl fmt::Display for Seg<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seg::Root => Ok(()),
            Seg::Key(Seg::Root, k) => write!(f, "{k}"),
            Seg::Key(p, k) => write!(f, "{p}.{k}"),
            Seg::Index(p, i) => write!(f, "{p}[{i}]"),
        }
    }
}

#[derive(Default)]
struct WalkState {
    /// `(field, reason)` of the first limit broken.
    failure: Option<(String, String)>,
    /// The top-level `ociVersion` string, if there is one.
    version: Option<String>,
    /// The document is a JSON object (serde would also take a struct from an array).
    root_is_object: bool,
}

struct Walk<'a> {
    at: &'a Seg<'a>,
    state: &'a RefCell<WalkState>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        if matches!(self.at, Seg::Key(Seg::Root, "ociVersion")) {
            self.state.borrow_mut().version = Some(v.to_string());
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            if i == MAX_ENTRIES {
                // One more element would be over the cap; stop before reading it.
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(self.fail());
                }
                return Ok(());
            }
            let at = Seg::Index(self.at, i);
            let seed = Walk {
                at: &at,
                state: self.state,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if matches!(self.at, Seg::Root) {
            self.state.borrow_mut().root_is_object = true;
        }
        let mut n = 0usize;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if n == MAX_ENTRIES {
                return Err(self.fail());
            }
            let at = Seg::Key(self.at, &key);
            map.next_value_seed(Walk {
                at: &at,
                state: self.state,
            })?;
            n += 1;
        }
        Ok(())
    }
}

impl Walk<'_> {
    fn fail<E: de::Error>(&self) -> E {
        let mut st = self.state.borrow_mut();
        if st.failure.is_none() {
            let field = match self.at {
                Seg::Root => "(top level)".to_string(),
                at => at.to_string(),
            };
            st.failure = Some((field, format!("more than {MAX_ENTRIES} entries")));
        }
        E::custom("entry limit")
    }
}

/// Walk the whole document once without building it: JSON syntax, the entry cap, and
/// the top-level ociVersion string.
fn shape_pass(bytes: &[u8]) -> Result<Option<String>, SpecError> {
    let state = RefCell::new(WalkState::default());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let walked = Walk {
        at: &Seg::Root,
        state: &state,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    let state = state.into_inner();
    if let Some((field, reason)) = state.failure {
        return Err(SpecError::Parse { field, reason });
    }
    walked.map_err(|e| friendly(String::new(), &e))?;
    if !state.root_is_object {
        return Err(SpecError::Parse {
            field: "(top level)".into(),
            reason: "config.json must be a JSON object".into(),
        });
    }
    Ok(state.version)
}

// ---------------------------------------------------------------- facts the typed parse loses

#[derive(Deserialize)]
struct RawSpec {
    linux: Option<RawLinux>,
}

#[derive(Deserialize)]
struct RawLinux {
    devices: Option<Vec<RawDevice>>,
}

#[derive(Deserialize)]
struct RawDevice {
    #[serde(rename = "type")]
    typ: Option<String>,
    major: Option<IgnoredAny>,
    minor: Option<IgnoredAny>,
}

/// oci-spec defaults a device's missing major/minor to 0; the spec makes them required
/// unless the type is "p". Runs after the typed parse, so the shape is known good.
fn raw_device_numbers(bytes: &[u8]) -> Result<(), SpecError> {
    let Ok(raw) = serde_json::from_slice::<RawSpec>(bytes) else {
        return Ok(());
    };
    let devices = raw.linux.and_then(|l| l.devices).unwrap_or_default();
    for (i, d) in devices.iter().enumerate() {
        let typ = d.typ.as_deref().unwrap_or("");
        if typ == "p" {
            continue;
        }
        for (name, present) in [("major", d.major.is_some()), ("minor", d.minor.is_some())] {
            if !present {
                return Err(SpecError::invalid(
                    format!("linux.devices[{i}].{name}"),
                    format!("required for a {typ:?} device"),
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- error wording

/// Turn a serde_json error at JSON path `path` into a SpecError whose reason reads well:
/// the location suffix goes, an unknown enum value is named with what it is, a missing
/// field is named in the path.
fn friendly(path: String, err: &serde_json::Error) -> SpecError {
    let path = if path == "." { String::new() } else { path };
    let mut msg = err.to_string();
    let location = format!(" at line {} column {}", err.line(), err.column());
    if let Some(stripped) = msg.strip_suffix(&location) {
        msg = stripped.to_string();
    }
    if err.is_syntax() || err.is_eof() {
        return SpecError::Parse {
            field: format!("line {}, column {}", err.line(), err.column()),
            reason: format!("not valid JSON: {msg}"),
        };
    }
    if let Some(name) = msg
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        let field = if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        return SpecError::Parse {
            field,
            reason: "required".into(),
        };
    }
    let field = if path.is_empty() {
        "(top level)".to_string()
    } else {
        path
    };
    let reason = reword(&field, &msg);
    SpecError::Parse { field, reason }
}

fn backticked(s: &str) -> Option<&str> {
    let start = s.find('`')? + 1;
    let len = s[start..].find('`')?;
    Some(&s[start..start + len])
}

/// What kind of value the field at `field` names, for "unknown ..." messages.
fn value_kind(field: &str) -> &'static str {
    let has = |s: &str| field.contains(s);
    if has("rlimits[") {
        "rlimit"
    } else if has("capabilities.") {
        "capability"
    } else if has("namespaces[") {
        "namespace type"
    } else if has("devices[") {
        "device type"
    } else if has("seccomp.") && (field.ends_with(".action") || field.ends_with("defaultAction")) {
        "seccomp action"
    } else if has("seccomp.architectures") {
        "seccomp architecture"
    } else if has("seccomp.") && field.ends_with(".op") {
        "seccomp operator"
    } else if has("scheduler.policy") {
        "scheduler policy"
    } else if has("scheduler.flags") {
        "scheduler flag"
    } else if has("ioPriority.class") {
        "I/O priority class"
    } else if has("personality.domain") {
        "personality domain"
    } else {
        "value"
    }
}

fn reword(field: &str, msg: &str) -> String {
    if let Some(rest) = msg.strip_prefix("unknown variant ") {
        let variant = backticked(rest).unwrap_or(rest);
        let kind = value_kind(field);
        let expected = rest
            .split_once(", expected ")
            .map(|(_, e)| e.replace('`', ""))
            .unwrap_or_default();
        // Short lists help; the 40-odd rlimits or 400 syscalls do not.
        if !expected.is_empty() && expected.len() <= 120 {
            return format!("unknown {kind} \"{variant}\" (expected {expected})");
        }
        return format!("unknown {kind} \"{variant}\"");
    }
    // oci-spec's capability parser: "no variant for CAP_FOO (converted to FOO)".
    if let Some(rest) = msg.strip_prefix("no variant for ") {
        let name = rest.split(" (converted").next().unwrap_or(rest);
        return format!("unknown {} \"{name}\"", value_kind(field));
    }
    msg.to_string()
}

#[cfg(test)]
mod sched_flag_tests {
    use super::*;
    use oci_spec::runtime::LinuxSchedulerFlag;

    #[test]
    fn spec_scheduler_flag_names_are_accepted() {
        let cfg = br#"{"ociVersion":"1.3.0","root":{"path":"rootfs"},"process":{"cwd":"/","args":["a"],"user":{"uid":0,"gid":0},
            "scheduler":{"policy":"SCHED_OTHER","flags":["SCHED_FLAG_RESET_ON_FORK","SCHED_FLAG_DL_OVERRUN","SCHED_FLAG_RECLAIM"]}}}"#;
        let spec = parse_spec(cfg).unwrap();
        let flags = spec
            .process()
            .as_ref()
            .unwrap()
            .scheduler()
            .as_ref()
            .unwrap()
            .flags()
            .clone()
            .unwrap();
        assert_eq!(
            flags,
            vec![
                LinuxSchedulerFlag::SchedResetOnFork,
                LinuxSchedulerFlag::SchedFlagDLOverrun,
                LinuxSchedulerFlag::SchedFlagReclaim
            ]
        );
        // A config that takes the fixup still gets errors naming the field.
        let bad = br#"{"ociVersion":"1.3.0","root":{"path":"rootfs"},"process":{"cwd":"/","args":"a","user":{"uid":0,"gid":0},
            "scheduler":{"policy":"SCHED_OTHER","flags":["SCHED_FLAG_DL_OVERRUN"]}}}"#;
        let e = parse_spec(bad).unwrap_err().to_string();
        assert!(e.contains("process.args"), "{e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn minimal() -> Value {
        json!({
            "ociVersion": "1.3.0",
            "root": {"path": "rootfs"},
            "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
        })
    }

    fn bytes(v: &Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    fn parse_err(v: &Value) -> (String, String) {
        parse_err_bytes(&bytes(v))
    }

    fn parse_err_bytes(b: &[u8]) -> (String, String) {
        match parse_spec(b) {
            Ok(_) => panic!("accepted: {}", String::from_utf8_lossy(b)),
            Err(SpecError::Parse { field, reason }) | Err(SpecError::Invalid { field, reason }) => {
                (field, reason)
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn set(mut v: Value, pointer: &str, new: Value) -> Value {
        if let Some(slot) = v.pointer_mut(pointer) {
            *slot = new;
            return v;
        }
        let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
        match v.pointer_mut(parent).and_then(|p| p.as_object_mut()) {
            Some(obj) => {
                obj.insert(key.to_string(), new);
            }
            None => panic!("no {parent}"),
        }
        v
    }

    #[test]
    fn minimal_parses() {
        if let Err(e) = parse_spec(&bytes(&minimal())) {
            panic!("{e}");
        }
    }

    #[test]
    fn oci_versions() {
        for good in [
            "1.0.0",
            "1.2.1",
            "1.3.0",
            "1.0.2-dev",
            "1.1.0-rc.2",
            "1.0.0+build.1",
        ] {
            assert!(check_oci_version(good).is_ok(), "{good}");
        }
        for bad in [
            "2.0.0", "0.1.0", "1.0", "1", "", "1.0.0.0", "v1.0.0", "1.a.0", "1.0.0-", "01.0.0",
        ] {
            assert!(check_oci_version(bad).is_err(), "{bad:?}");
        }
        let (field, reason) = parse_err(&set(minimal(), "/ociVersion", json!("2.0.0")));
        assert_eq!(field, "ociVersion");
        assert!(reason.contains("1.x"), "{reason}");
    }

    #[test]
    fn oci_version_is_checked_before_the_shape() {
        // A 2.x config whose shape oci-spec does not know: the version is the error.
        let v = set(minimal(), "/ociVersion", json!("2.0.0"));
        let v = set(v, "/process", json!("not an object"));
        assert_eq!(parse_err(&v).0, "ociVersion");
    }

    #[test]
    fn missing_oci_version_names_it() {
        let mut v = minimal();
        if let Some(o) = v.as_object_mut() {
            o.remove("ociVersion");
        }
        assert_eq!(
            parse_err(&v),
            ("ociVersion".to_string(), "required".to_string())
        );
    }

    #[test]
    fn missing_field_keeps_its_path() {
        let v = set(
            minimal(),
            "/process",
            json!({"user": {"uid": 0, "gid": 0}, "args": ["sh"]}),
        );
        assert_eq!(
            parse_err(&v),
            ("process.cwd".to_string(), "required".to_string())
        );
    }

    #[test]
    fn unknown_rlimit_is_named_without_the_whole_list() {
        let v = set(
            minimal(),
            "/process/rlimits",
            json!([{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1},
                   {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1},
                   {"type": "RLIMIT_FOO", "soft": 1, "hard": 1}]),
        );
        let (field, reason) = parse_err(&v);
        assert_eq!(field, "process.rlimits[2].type");
        assert_eq!(reason, "unknown rlimit \"RLIMIT_FOO\"");
    }

    #[test]
    fn unknown_namespace_and_capability() {
        let v = set(
            minimal(),
            "/linux/namespaces",
            json!([{"type": "pid"}, {"type": "bogus"}]),
        );
        let (field, reason) = parse_err(&v);
        assert_eq!(field, "linux.namespaces[1].type");
        assert!(
            reason.starts_with("unknown namespace type \"bogus\""),
            "{reason}"
        );
        let v = set(
            minimal(),
            "/process/capabilities",
            json!({"bounding": ["CAP_KILL", "CAP_FOO"]}),
        );
        let (field, reason) = parse_err(&v);
        assert_eq!(field, "process.capabilities.bounding[1]");
        assert_eq!(reason, "unknown capability \"CAP_FOO\"");
    }

    #[test]
    fn wrong_type_keeps_the_path() {
        let v = set(minimal(), "/process/oomScoreAdj", json!("high"));
        let (field, reason) = parse_err(&v);
        assert_eq!(field, "process.oomScoreAdj");
        assert!(reason.contains("invalid type"), "{reason}");
        assert!(!reason.contains(" at line "), "{reason}");
    }

    #[test]
    fn syntax_error_names_the_line() {
        let (field, reason) = parse_err_bytes(b"{\n  \"ociVersion\": \"1.0.0\",\n}");
        assert_eq!(field, "line 3, column 1");
        assert!(reason.starts_with("not valid JSON"), "{reason}");
        let (_, reason) = parse_err_bytes(b"{\"ociVersion\": \"1.0.0\"} trailing");
        assert!(reason.starts_with("not valid JSON"), "{reason}");
    }

    #[test]
    fn top_level_must_be_an_object() {
        // serde would read a struct from an array ("ociVersion" first, ...).
        let (field, reason) = parse_err_bytes(br#"["1.3.0", {"path": "rootfs"}]"#);
        assert_eq!(field, "(top level)");
        assert!(reason.contains("JSON object"), "{reason}");
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let v = set(minimal(), "/somethingNew", json!({"a": [1, 2, 3]}));
        let v = set(v, "/process/futureField", json!(true));
        assert!(parse_spec(&bytes(&v)).is_ok());
    }

    #[test]
    fn too_many_env_entries_fail_with_the_field() {
        let env: Vec<Value> = (0..=MAX_ENTRIES).map(|_| json!("A=b")).collect();
        let v = set(minimal(), "/process/env", Value::Array(env));
        let (field, reason) = parse_err(&v);
        assert_eq!(field, "process.env");
        assert!(reason.contains("more than 65536 entries"), "{reason}");
        // Exactly the cap is fine.
        let env: Vec<Value> = (0..MAX_ENTRIES).map(|_| json!("A=b")).collect();
        assert!(parse_spec(&bytes(&set(minimal(), "/process/env", Value::Array(env)))).is_ok());
    }

    #[test]
    fn too_many_entries_anywhere_even_unknown_fields() {
        let many: Vec<Value> = (0..=MAX_ENTRIES).map(|_| json!(0)).collect();
        let v = set(minimal(), "/annotations", json!({"x": {"deep": many}}));
        assert_eq!(parse_err(&v).0, "annotations.x.deep");
        let mut map = serde_json::Map::new();
        for i in 0..=MAX_ENTRIES {
            map.insert(format!("k{i}"), json!("v"));
        }
        let v = set(minimal(), "/annotations", Value::Object(map));
        assert_eq!(parse_err(&v).0, "annotations");
        let many: Vec<Value> = (0..=MAX_ENTRIES)
            .map(|_| json!({"destination": "/x"}))
            .collect();
        let v = set(minimal(), "/mounts", Value::Array(many));
        assert_eq!(parse_err(&v).0, "mounts");
    }

    #[test]
    fn too_large_bytes_refused() {
        let big = vec![b' '; MAX_CONFIG_BYTES as usize + 1];
        assert!(matches!(parse_spec(&big), Err(SpecError::TooLarge { .. })));
    }

    #[test]
    fn device_numbers_required_unless_fifo() {
        let v = set(
            minimal(),
            "/linux/devices",
            json!([{"path": "/dev/x", "type": "c", "minor": 1}]),
        );
        assert_eq!(parse_err(&v).0, "linux.devices[0].major");
        let v = set(
            minimal(),
            "/linux/devices",
            json!([{"path": "/dev/x", "type": "b", "major": 1}]),
        );
        assert_eq!(parse_err(&v).0, "linux.devices[0].minor");
        let v = set(
            minimal(),
            "/linux/devices",
            json!([{"path": "/dev/p", "type": "p"}]),
        );
        assert!(parse_spec(&bytes(&v)).is_ok());
    }

    fn bundle_with(config: &[u8]) -> tempfile::TempDir {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("tempdir: {e}"),
        };
        if let Err(e) = std::fs::write(dir.path().join("config.json"), config) {
            panic!("write: {e}");
        }
        dir
    }

    #[test]
    fn load_bundle_resolves_root_and_validates() {
        let dir = bundle_with(&bytes(&minimal()));
        let b = match load_bundle(dir.path()) {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        };
        let canon = std::fs::canonicalize(dir.path()).unwrap_or_default();
        assert_eq!(b.dir, canon);
        assert_eq!(b.rootfs, canon.join("rootfs"));

        let abs = set(minimal(), "/root/path", json!("/somewhere/rootfs"));
        let dir = bundle_with(&bytes(&abs));
        match load_bundle(dir.path()) {
            Ok(b) => assert_eq!(b.rootfs, PathBuf::from("/somewhere/rootfs")),
            Err(e) => panic!("{e}"),
        }

        // validate() runs: a relative cwd is refused by load_bundle, not only by validate.
        let bad = set(minimal(), "/process/cwd", json!("relative"));
        let dir = bundle_with(&bytes(&bad));
        match load_bundle(dir.path()) {
            Err(SpecError::Invalid { field, .. }) => assert_eq!(field, "process.cwd"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn load_bundle_refuses_a_large_file_by_its_size() {
        let dir = bundle_with(b"");
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join("config.json"));
        match f.and_then(|f| f.set_len(100 << 20)) {
            Ok(()) => {}
            Err(e) => panic!("{e}"),
        }
        match load_bundle(dir.path()) {
            Err(SpecError::TooLarge { size, max, .. }) => {
                assert_eq!(size, 100 << 20);
                assert_eq!(max, MAX_CONFIG_BYTES);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bounded_read_stops_past_the_cap() {
        // An endless reader stands in for a file that grows after the stat.
        let endless = std::io::repeat(b' ');
        assert!(matches!(read_capped(endless, 10), Ok(Err(n)) if n == MAX_CONFIG_BYTES + 1));
        let small: &[u8] = b"{}";
        assert!(matches!(read_capped(small, 0), Ok(Ok(ref b)) if b == b"{}"));
    }

    #[test]
    fn config_must_be_a_regular_file() {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let path = dir.path().join("config.json");
        if let Err(e) = std::fs::create_dir(&path) {
            panic!("{e}");
        }
        assert!(matches!(read_config(&path), Err(SpecError::Io { .. })));
        let fifo = dir.path().join("fifo");
        if let Err(e) = nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
        {
            panic!("{e}");
        }
        // Must return at once instead of blocking on the FIFO.
        assert!(matches!(read_config(&fifo), Err(SpecError::Io { .. })));
    }

    #[test]
    fn missing_bundle_is_an_io_error() {
        assert!(matches!(
            load_bundle(Path::new("/nonexistent/berth-bundle")),
            Err(SpecError::Io { .. })
        ));
    }
}
