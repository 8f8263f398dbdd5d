// The containers/common profile (tests/data/containers-seccomp.json) as the
// `linux.seccomp` podman gives an x86_64 container whose bounding set is `caps`:
// containers/common pkg/seccomp setupSeccomp, i.e. the architectures of the archMap
// entry for SCMP_ARCH_X86_64, and each syscalls[] entry kept unless its `excludes`
// match (arch amd64, or any of its caps held) or its `includes` do not (arch amd64,
// all of its caps held). Included with `include!`, hence no module items.

fn containers_profile(caps: &[&str]) -> serde_json::Value {
    use serde_json::{json, Value};
    let raw: Value = serde_json::from_str(include_str!("containers-seccomp.json"))
        .expect("containers-seccomp.json parses");
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    let mut archs = vec![];
    for m in raw["archMap"].as_array().into_iter().flatten() {
        if m["architecture"] == "SCMP_ARCH_X86_64" {
            archs.push(json!("SCMP_ARCH_X86_64"));
            archs.extend(strs(&m["subArchitectures"]).into_iter().map(Value::from));
        }
    }
    let held = |c: &String| caps.iter().any(|h| h == c);
    let mut syscalls = vec![];
    for s in raw["syscalls"].as_array().into_iter().flatten() {
        let ex_arch = strs(&s["excludes"]["arches"]);
        let ex_caps = strs(&s["excludes"]["caps"]);
        let in_arch = strs(&s["includes"]["arches"]);
        let in_caps = strs(&s["includes"]["caps"]);
        if ex_arch.iter().any(|a| a == "amd64")
            || ex_caps.iter().any(held)
            || (!in_arch.is_empty() && !in_arch.iter().any(|a| a == "amd64"))
            || !in_caps.iter().all(held)
        {
            continue;
        }
        let mut names = strs(&s["names"]);
        if let Some(n) = s["name"].as_str().filter(|n| !n.is_empty()) {
            names.push(n.to_string());
        }
        let mut out = json!({"names": names, "action": s["action"]});
        if let Some(e) = s["errnoRet"].as_u64() {
            out["errnoRet"] = json!(e);
        }
        if let Some(a) = s["args"].as_array().filter(|a| !a.is_empty()) {
            out["args"] = json!(a);
        }
        syscalls.push(out);
    }
    let mut p = json!({
        "defaultAction": raw["defaultAction"],
        "architectures": archs,
        "syscalls": syscalls,
    });
    if let Some(e) = raw["defaultErrnoRet"].as_u64() {
        p["defaultErrnoRet"] = json!(e);
    }
    p
}
