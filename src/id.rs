//! Container ids. A `ContainerId` cannot exist invalid, so nothing below the CLI
//! ever builds a path under `--root` from an unchecked string.

use std::fmt;

/// Longest id accepted. runc allows any length; 1024 keeps paths well under PATH_MAX.
pub const MAX_ID_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("invalid container id: the id is empty")]
    Empty,
    #[error("invalid container id {0:?}: \".\" and \"..\" are not ids")]
    Dots(String),
    #[error("invalid container id: longer than {MAX_ID_LEN} bytes")]
    TooLong,
    #[error(
        "invalid container id {id:?}: character {ch:?} is not allowed (only A-Z a-z 0-9 _ + . -)"
    )]
    BadChar { id: String, ch: char },
}

impl ContainerId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.len() > MAX_ID_LEN {
            return Err(IdError::TooLong);
        }
        if s == "." || s == ".." {
            return Err(IdError::Dots(s.to_string()));
        }
        if let Some(ch) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '.' | '-')))
        {
            return Err(IdError::BadChar {
                id: s.chars().take(64).collect(),
                ch,
            });
        }
        Ok(ContainerId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_runc_charset() {
        for id in ["a", "abc-123", "A_b+c.d", "x..y", ".hidden", "0"] {
            assert_eq!(ContainerId::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn rejects_empty_dots_and_traversal() {
        assert_eq!(ContainerId::parse(""), Err(IdError::Empty));
        assert!(matches!(ContainerId::parse("."), Err(IdError::Dots(_))));
        assert!(matches!(ContainerId::parse(".."), Err(IdError::Dots(_))));
        for bad in ["../x", "a/b", "a b", "é", "a\0b", "a\nb", "/abs"] {
            assert!(
                matches!(ContainerId::parse(bad), Err(IdError::BadChar { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn rejects_too_long() {
        let long = "a".repeat(4096);
        assert_eq!(ContainerId::parse(&long), Err(IdError::TooLong));
        assert!(ContainerId::parse(&"a".repeat(MAX_ID_LEN)).is_ok());
    }
}
