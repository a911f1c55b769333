//! Fixed vocabularies the generator draws from: names, mail domains, roles.

use super::Role;

/// Given names. Non-ASCII letters are on purpose: clients must survive them in JSON,
/// in FQL filters and in reports.
pub(super) const FIRST_NAMES: &[&str] = &[
    "Alex",
    "Amara",
    "Ana",
    "Åsa",
    "Björn",
    "Blair",
    "Carlos",
    "Casey",
    "Chloé",
    "Chidi",
    "Dana",
    "Daniel",
    "Dmitri",
    "Elena",
    "Emery",
    "Fatima",
    "François",
    "Grace",
    "Hannah",
    "Hiroshi",
    "Ingrid",
    "Isabela",
    "Jamal",
    "José",
    "Jürgen",
    "Kai",
    "Kavya",
    "Leila",
    "Łukasz",
    "Mai",
    "Małgorzata",
    "Marco",
    "Mei",
    "Mohammed",
    "Nadia",
    "Noah",
    "Olumide",
    "Priya",
    "Quinn",
    "Rafael",
    "Renée",
    "Riley",
    "Sam",
    "Seán",
    "Siobhán",
    "Søren",
    "Tariq",
    "Thandiwe",
    "Tomás",
    "Uma",
    "Wei",
    "Yara",
    "Yusuf",
    "Zoë",
    "Zoltán",
];

/// Family names, including an apostrophe (O'Brien), diacritics and a hyphen.
pub(super) const LAST_NAMES: &[&str] = &[
    "Abara",
    "Ångström",
    "Bianchi",
    "Brennan",
    "Chen",
    "D'Angelo",
    "Dubois",
    "Eriksson",
    "Fernández",
    "García",
    "Haddad",
    "Hansen",
    "Ivanova",
    "Jensen",
    "Kim",
    "Kowalski",
    "Larsen",
    "Lefèvre",
    "Mbeki",
    "Müller",
    "Nakamura",
    "Nguyễn",
    "Novak",
    "Núñez",
    "O'Brien",
    "Okafor",
    "Okonkwo",
    "Patel",
    "Petrović",
    "Quispe",
    "Rivera",
    "Rossi",
    "Sato",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith-Jones",
    "Søndergaard",
    "Takahashi",
    "Tanaka",
    "Thompson",
    "Trần",
    "Van der Berg",
    "Wagner",
    "Walsh",
    "Weiß",
    "Yilmaz",
    "Zhang",
    "Żak",
];

/// Mail domains under the reserved `.example` TLD, so no generated address can belong
/// to anyone.
pub(super) const DOMAINS: &[&str] = &[
    "northwind-labs.example",
    "contoso-security.example",
    "fabrikam.example",
    "tailspin-toys.example",
];

/// The administrator role id.
pub(super) const ADMIN: &str = "falcon_administrator";
/// The RTR administrator role id.
pub(super) const RTR_ADMIN: &str = "remote_responder_three";

/// Non-administrative roles with how often they are handed out relative to each other.
pub(super) const REGULAR_ROLE_WEIGHTS: &[(&str, u64)] = &[
    ("falcon_analyst", 6),
    ("falcon_analyst_read_only", 5),
    ("endpoint_manager", 3),
    ("desktop_support", 3),
    ("falcon_security_lead", 2),
    ("falcon_console_guest", 2),
    ("remote_responder", 2),
    ("remote_responder_two", 1),
    ("falconhost_investigator", 2),
    ("prevention_hashes_manager", 1),
    ("firewall_manager", 1),
    ("device_control_manager", 1),
];

/// (id, display name, description)
const ROLES: &[(&str, &str, &str)] = &[
    (
        ADMIN,
        "Falcon Administrator",
        "Manage users, API clients, policies and every other Falcon setting",
    ),
    (
        RTR_ADMIN,
        "Real Time Responder - Admin",
        "Run every Real Time Response command, including put, run and custom scripts",
    ),
    (
        "remote_responder_two",
        "Real Time Responder - Active Responder",
        "Run Real Time Response commands that change files, processes and the registry",
    ),
    (
        "remote_responder",
        "Real Time Responder - Read Only Analyst",
        "Run read-only Real Time Response commands on hosts",
    ),
    (
        "falcon_security_lead",
        "Falcon Security Lead",
        "Manage detections, incidents, prevention policies and host groups",
    ),
    (
        "falcon_analyst",
        "Falcon Analyst",
        "Investigate and triage detections and incidents",
    ),
    (
        "falcon_analyst_read_only",
        "Falcon Analyst - Read Only",
        "View detections, incidents and hosts without changing them",
    ),
    (
        "falconhost_investigator",
        "Falcon Investigator",
        "Search event data and run investigations",
    ),
    (
        "endpoint_manager",
        "Endpoint Manager",
        "Manage hosts, host groups and sensor updates",
    ),
    (
        "desktop_support",
        "Desktop Support",
        "Look up hosts and sensor status to support end users",
    ),
    (
        "falcon_console_guest",
        "Falcon Console Guest",
        "Read-only access to dashboards in the Falcon console",
    ),
    (
        "prevention_hashes_manager",
        "Prevention Hashes Manager",
        "Manage custom indicators of compromise and hash allow and block lists",
    ),
    (
        "firewall_manager",
        "Firewall Manager",
        "Manage firewall policies and rule groups",
    ),
    (
        "device_control_manager",
        "Device Control Manager",
        "Manage USB device control policies",
    ),
];

/// The tenant's role catalogue, administrators first.
pub(super) fn roles() -> Vec<Role> {
    ROLES
        .iter()
        .map(|(id, display_name, description)| Role {
            id: (*id).to_owned(),
            display_name: (*display_name).to_owned(),
            description: (*description).to_owned(),
            // Built-in roles exist in every CID, unlike custom roles.
            is_global: true,
            // Falcon's value for built-in roles is not documented; this is a guess that
            // no client is known to depend on.
            role_type: "falcon".to_owned(),
        })
        .collect()
}

/// The local part of a mail address for a name: lowercase ASCII, diacritics folded,
/// apostrophes and spaces dropped ("Łukasz O'Brien" -> "lukasz.obrien").
pub(super) fn mail_local_part(first: &str, last: &str) -> String {
    format!("{}.{}", fold_ascii(first), fold_ascii(last))
}

fn fold_ascii(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars().flat_map(char::to_lowercase) {
        match ch {
            'a'..='z' | '0'..='9' | '-' => out.push(ch),
            'ß' => out.push_str("ss"),
            _ => {
                if let Some(base) = fold_letter(ch) {
                    out.push(base);
                }
            }
        }
    }
    out
}

/// The base letter of an accented lowercase letter, or `None` to drop it.
fn fold_letter(ch: char) -> Option<char> {
    let base = match ch {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'ą' | 'ă' | 'ầ' | 'ấ' | 'ậ' | 'ắ' => {
            'a'
        }
        'ç' | 'ć' | 'č' => 'c',
        'đ' => 'd',
        'é' | 'è' | 'ê' | 'ë' | 'ę' | 'ễ' | 'ế' | 'ệ' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ł' => 'l',
        'ñ' | 'ń' => 'n',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'ồ' | 'ố' => 'o',
        'ś' | 'š' => 's',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        _ => return None,
    };
    Some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_local_part_folds_and_drops() {
        assert_eq!(mail_local_part("Łukasz", "O'Brien"), "lukasz.obrien");
        assert_eq!(mail_local_part("Zoë", "Nguyễn"), "zoe.nguyen");
        assert_eq!(mail_local_part("Søren", "Van der Berg"), "soren.vanderberg");
        assert_eq!(mail_local_part("Åsa", "Weiß"), "asa.weiss");
        assert_eq!(mail_local_part("Tomás", "Smith-Jones"), "tomas.smith-jones");
    }

    #[test]
    fn every_letter_of_every_name_survives_folding() {
        for name in FIRST_NAMES.iter().chain(LAST_NAMES) {
            let expected: usize = name
                .chars()
                .map(|c| match c {
                    'ß' => 2,
                    c if c.is_alphanumeric() || c == '-' => 1,
                    _ => 0,
                })
                .sum();
            assert_eq!(fold_ascii(name).len(), expected, "{name} lost a letter");
        }
    }

    #[test]
    fn weighted_roles_exist_in_catalogue() {
        let ids: Vec<String> = roles().into_iter().map(|r| r.id).collect();
        for (id, _) in REGULAR_ROLE_WEIGHTS {
            assert!(ids.iter().any(|known| known == id), "{id} missing");
        }
        assert!(ids.iter().any(|id| id == ADMIN) && ids.iter().any(|id| id == RTR_ADMIN));
    }
}
