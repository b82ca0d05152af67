//! People and levels: roles, the level tree, usernames, passwords and phone numbers.

use super::ledger::string_enum;
use super::{Invalid, required_text};

/// Shortest password accepted (NIST SP 800-63B asks for at least 8).
pub const PASSWORD_CHARS_MIN: usize = 8;
/// Longest password accepted; argon2 would take more, but nobody types more.
pub const PASSWORD_CHARS_MAX: usize = 128;
pub const NAME_CHARS_MAX: usize = 100;

string_enum! {
    /// What a caller may do. Partners are machine clients (battery-swap operators, platforms).
    Role {
        Admin => "admin",
        Organizer => "organizer",
        Auditor => "auditor",
        Rider => "rider",
        Partner => "partner",
    }
}

impl Role {
    /// Organizers and riders belong to one level; admins and auditors to none.
    pub fn needs_level(self) -> bool {
        matches!(self, Role::Organizer | Role::Rider)
    }
}

string_enum! {
    /// The four tiers of the union's tree, from the top.
    LevelKind {
        City => "city",
        District => "district",
        Street => "street",
        Community => "community",
    }
}

/// The language of the texts people read: problems, and names kept in both languages. A level may
/// set it as the default for the people at it and below; a client's `Accept-Language` comes first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub enum Language {
    #[serde(rename = "zh-CN")]
    Chinese,
    #[default]
    #[serde(rename = "en")]
    English,
}

impl Language {
    /// The BCP 47 tag, as stored and as sent in `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Language::Chinese => "zh-CN",
            Language::English => "en",
        }
    }

    pub fn parse(tag: &str) -> Option<Self> {
        match tag {
            "zh-CN" => Some(Language::Chinese),
            "en" => Some(Language::English),
            _ => None,
        }
    }

    /// Of a name kept in both languages, the one in this language.
    pub fn pick<'a>(self, chinese: &'a str, english: &'a str) -> &'a str {
        match self {
            Language::Chinese => chinese,
            Language::English => english,
        }
    }
}

impl LevelKind {
    fn rank(self) -> u8 {
        match self {
            LevelKind::City => 0,
            LevelKind::District => 1,
            LevelKind::Street => 2,
            LevelKind::Community => 3,
        }
    }

    /// A level sits below its parent: a city is a root, everything else has a parent of a higher tier.
    pub fn check_parent(self, parent: Option<LevelKind>) -> Result<(), Invalid> {
        match (self, parent) {
            (LevelKind::City, None) => Ok(()),
            (LevelKind::City, Some(_)) => {
                Err(Invalid::one("parent_id", "a city is the root of a tree and has no parent"))
            }
            (_, None) => Err(Invalid::one("parent_id", "only a city may be created without a parent")),
            (kind, Some(parent)) if parent.rank() < kind.rank() => Ok(()),
            (kind, Some(parent)) => {
                Err(Invalid::one("parent_id", format!("a {kind} cannot be placed under a {parent}")))
            }
        }
    }
}

/// The materialised path of a level: its ancestors' ids and its own, e.g. `/1/4/9/`.
pub fn level_path(parent_path: Option<&str>, id: i64) -> String {
    format!("{}{id}/", parent_path.unwrap_or("/"))
}

/// Whether the level at `path` lies in the subtree rooted at `root_path` (itself included).
pub fn within(root_path: &str, path: &str) -> bool {
    path.starts_with(root_path)
}

pub fn level_name(name: &str) -> Result<String, Invalid> {
    required_text("name", name, NAME_CHARS_MAX)
}

pub fn display_name(name: &str) -> Result<String, Invalid> {
    required_text("display_name", name, NAME_CHARS_MAX)
}

/// Usernames of staff: 3–50 characters of letters, digits, `.`, `_` and `-`, compared case-insensitively.
pub fn username(name: &str) -> Result<String, Invalid> {
    let name = name.trim().to_lowercase();
    let valid_length = (3..=50).contains(&name.chars().count());
    let valid_characters = name.chars().all(|character| character.is_ascii_alphanumeric() || "._-".contains(character));
    if !valid_length || !valid_characters {
        return Err(Invalid::one("username", "must be 3–50 letters, digits, '.', '_' or '-'"));
    }
    Ok(name)
}

pub fn password(password: &str) -> Result<(), Invalid> {
    let length = password.chars().count();
    if length < PASSWORD_CHARS_MIN {
        return Err(Invalid::one("password", format!("must be at least {PASSWORD_CHARS_MIN} characters")));
    }
    if length > PASSWORD_CHARS_MAX {
        return Err(Invalid::one("password", format!("must be at most {PASSWORD_CHARS_MAX} characters")));
    }
    Ok(())
}

/// A mainland China mobile number in its 11-digit national form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Accepts spaces, dashes and a +86 / 0086 / 86 prefix; the result is 11 digits starting 1[3-9].
    pub fn parse(text: &str) -> Result<Phone, Invalid> {
        let digits: String = text.chars().filter(|character| !matches!(character, ' ' | '-' | '(' | ')')).collect();
        let national = digits
            .strip_prefix("+86")
            .or_else(|| digits.strip_prefix("0086"))
            .or_else(|| if digits.len() == 13 { digits.strip_prefix("86") } else { None })
            .unwrap_or(&digits);
        let bytes = national.as_bytes();
        let valid = bytes.len() == 11
            && bytes.iter().all(u8::is_ascii_digit)
            && bytes[0] == b'1'
            && (b'3'..=b'9').contains(&bytes[1]);
        if !valid {
            return Err(Invalid::one("phone", "must be a mainland mobile number such as 13812341234"));
        }
        Ok(Phone(national.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form shown to anyone but the rider and admins: 138****1234.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

/// Masks a stored phone number, keeping the first three and last four digits.
pub fn mask_phone(phone: &str) -> String {
    if phone.len() == 11 && phone.is_ascii() {
        format!("{}****{}", &phone[..3], &phone[7..])
    } else {
        "****".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phones_are_normalised_and_masked() {
        for input in ["13812341234", "138 1234 1234", "+86 138-1234-1234", "008613812341234", "8613812341234"] {
            assert_eq!(Phone::parse(input).unwrap().as_str(), "13812341234", "{input}");
        }
        for input in ["1381234123", "23812341234", "12812341234", "abc", "138123412345"] {
            assert!(Phone::parse(input).is_err(), "{input}");
        }
        assert_eq!(Phone::parse("13812341234").unwrap().masked(), "138****1234");
    }

    #[test]
    fn levels_nest_downwards() {
        assert!(LevelKind::City.check_parent(None).is_ok());
        assert!(LevelKind::District.check_parent(Some(LevelKind::City)).is_ok());
        assert!(LevelKind::Community.check_parent(Some(LevelKind::District)).is_ok());
        assert!(LevelKind::District.check_parent(None).is_err());
        assert!(LevelKind::City.check_parent(Some(LevelKind::City)).is_err());
        assert!(LevelKind::District.check_parent(Some(LevelKind::Street)).is_err());
        assert!(within("/1/4/", "/1/4/9/"));
        assert!(within("/1/4/", "/1/4/"));
        assert!(!within("/1/4/", "/1/40/"), "a sibling with a longer id is not inside");
        assert_eq!(level_path(Some("/1/4/"), 9), "/1/4/9/");
    }

    #[test]
    fn usernames_and_passwords() {
        assert_eq!(username(" Admin.Li ").unwrap(), "admin.li");
        assert!(username("ab").is_err());
        assert!(username("张三").is_err());
        assert!(password("short").is_err());
        assert!(password("long enough").is_ok());
    }

    proptest! {
        #[test]
        fn every_written_form_of_a_number_is_the_same_number(
            second in 3u8..=9, rest in "[0-9]{9}", prefix in prop::sample::select(vec!["", "+86", "0086", "86", "+86 "]),
            dashed in any::<bool>(),
        ) {
            let national = format!("1{second}{rest}");
            let written = if dashed { format!("{}-{}-{}", &national[..3], &national[3..7], &national[7..]) } else { national.clone() };
            let parsed = Phone::parse(&format!("{prefix}{written}")).unwrap();
            prop_assert_eq!(parsed.as_str(), national.as_str());
        }

        #[test]
        fn usernames_are_folded_or_refused_never_anything_else(text in "\\PC{0,60}") {
            if let Ok(name) = username(&text) {
                prop_assert_eq!(&name, &text.trim().to_lowercase());
                prop_assert!((3..=50).contains(&name.len()));
                prop_assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c)));
            }
        }

        #[test]
        fn any_text_either_fails_or_yields_eleven_digits(text in "\\PC{0,20}") {
            if let Ok(phone) = Phone::parse(&text) {
                prop_assert_eq!(phone.as_str().len(), 11);
                prop_assert!(phone.as_str().bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }
}
