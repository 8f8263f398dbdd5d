//! The rules of the spec that a parsed config.json must follow, one small function each.
