//! `handle` and `groupBuySlug`: 3..64 chars of `a-z 0-9 -`, no leading, trailing or double `-`.

use serde::{Deserialize, Serialize};
use std::fmt;

const MIN_LEN: usize = 3;
const MAX_LEN: usize = 64;

fn parse_identifier(raw: &str) -> Result<String, String> {
    let len = raw.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&len) {
        return Err(format!("must be {MIN_LEN} to {MAX_LEN} characters"));
    }
    if !raw
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("may contain only a-z, 0-9 and '-'".into());
    }
    if raw.starts_with('-') || raw.ends_with('-') || raw.contains("--") {
        return Err("must not start or end with '-' or contain '--'".into());
    }
    Ok(raw.to_owned())
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, String> {
                parse_identifier(raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(raw: String) -> Result<Self, String> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

identifier!(
    /// The storefront handle that owns group-buys, e.g. `acme-decor`.
    Handle
);
identifier!(
    /// A group-buy's slug, unique within its handle, e.g. `brass-lamp-drop`.
    Slug
);

impl Slug {
    /// Derives a slug from a title: transliterated, lower case, truncated to the maximum
    /// length on a word boundary where possible. `None` when too little of the title is left.
    pub fn derive_from(title: &str) -> Option<Self> {
        let mut slug = slug::slugify(title);
        if slug.len() > MAX_LEN {
            slug.truncate(MAX_LEN);
            if let Some(cut) = slug.rfind('-').filter(|&cut| cut >= MIN_LEN) {
                slug.truncate(cut);
            }
            while slug.ends_with('-') {
                slug.pop();
            }
        }
        Self::parse(&slug).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_identifiers() {
        for ok in ["abc", "acme-decor", "a1-b2-c3", &"a".repeat(64)] {
            assert!(Handle::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_malformed_identifiers() {
        for bad in [
            "ab",
            &"a".repeat(65),
            "Acme",
            "acme_decor",
            "-acme",
            "acme-",
            "ac--me",
            "acmé",
            "",
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn derives_slugs_from_titles() {
        let derived = |t: &str| Slug::derive_from(t).map(String::from);
        assert_eq!(
            derived("Brass lamp, limited edition!").as_deref(),
            Some("brass-lamp-limited-edition")
        );
        assert_eq!(derived("Été  à Paris").as_deref(), Some("ete-a-paris"));
        assert_eq!(derived("!!"), None);
        assert_eq!(derived("ab"), None);
        let long = derived(&"word ".repeat(30)).unwrap_or_default();
        assert!(long.len() <= 64 && !long.ends_with('-'), "{long}");
    }
}
