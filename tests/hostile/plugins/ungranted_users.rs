//! Hostile: calls every `users` operation without requesting any scope.

use falcon_sdk::{Filter, Input, Plugin, users};
use hostile::answer;
use serde_json::json;

falcon_sdk::manifest! {
    name: "ungranted-users",
    version: "0.1.0",
    description: "Hostile: calls users operations it did not request",
    scopes: [],
}

struct UngrantedUsers;

impl Plugin for UngrantedUsers {
    fn run(_input: Input) -> Result<String, String> {
        let ids = vec!["00000000-0000-0000-0000-000000000000".to_owned()];
        Ok(json!({
            "list-users": answer(users::list_users(&Filter::All), |v| json!(v.len())),
            "get-users": answer(users::get_users(&ids), |v| json!(v.len())),
            "query-users": answer(users::query_users(&Filter::All), |v| json!(v.len())),
            "roles-of-users": answer(users::roles_of_users(&ids), |v| json!(v.len())),
            "list-roles": answer(users::list_roles(), |v| json!(v.len())),
        })
        .to_string())
    }
}

falcon_sdk::export_plugin!(UngrantedUsers);
