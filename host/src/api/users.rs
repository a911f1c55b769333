//! `users`: users, roles and role grants.

use super::{HostResult, to_fql, to_plugin_error};
use crate::bindings::falcon::plugin::users;
use crate::bindings::{Filter, PluginError, UpstreamError};
use crate::gate::Operation;
use crate::sandbox::RunState;

/// How many per-user requests `roles-of-users` keeps in flight at once.
const ROLE_FANOUT: usize = 8;

impl users::Host for RunState {
    async fn list_users(&mut self, filter: Filter) -> HostResult<Vec<String>> {
        let fql = match to_fql(&filter) {
            Ok(fql) => fql,
            Err(e) => return self.refuse(Operation::ListUsers, e),
        };
        self.call(Operation::ListUsers, &[], None, |client| async move {
            let query = falcon::users::UserQuery {
                filter: fql,
                sort: None,
            };
            client
                .users()
                .query_ids(&query)
                .await
                .map_err(to_plugin_error)
        })
        .await
    }

    async fn get_users(&mut self, uuids: Vec<String>) -> HostResult<Vec<users::User>> {
        self.call(
            Operation::GetUsers,
            &uuids.clone(),
            None,
            |client| async move {
                let batch = client.users().get(&uuids).await.map_err(to_plugin_error)?;
                if !batch.missing.is_empty() {
                    return Err(PluginError::NotFound(batch.missing));
                }
                Ok(batch.found.into_iter().map(to_user).collect())
            },
        )
        .await
    }

    async fn query_users(&mut self, filter: Filter) -> HostResult<Vec<users::User>> {
        let fql = match to_fql(&filter) {
            Ok(fql) => fql,
            Err(e) => return self.refuse(Operation::QueryUsers, e),
        };
        self.call(Operation::QueryUsers, &[], None, |client| async move {
            let query = falcon::users::UserQuery {
                filter: fql,
                sort: None,
            };
            let ids = client
                .users()
                .query_ids(&query)
                .await
                .map_err(to_plugin_error)?;
            // A user deleted between the query and the details call is
            // simply gone; the answer is the users that exist now.
            let batch = client.users().get(&ids).await.map_err(to_plugin_error)?;
            if !batch.missing.is_empty() {
                tracing::debug!(
                    missing = batch.missing.len(),
                    "users vanished during the query"
                );
            }
            Ok(batch.found.into_iter().map(to_user).collect())
        })
        .await
    }

    async fn roles_of_users(&mut self, uuids: Vec<String>) -> HostResult<Vec<users::UserRoles>> {
        self.call(
            Operation::RolesOfUsers,
            &uuids.clone(),
            None,
            |client| async move { roles_of_users(client, uuids).await },
        )
        .await
    }

    async fn list_roles(&mut self) -> HostResult<Vec<users::Role>> {
        self.call(Operation::ListRoles, &[], None, |client| async move {
            let roles = client.users().list_roles().await.map_err(to_plugin_error)?;
            Ok(roles
                .into_iter()
                .map(|r| users::Role {
                    id: r.id,
                    display_name: r.display_name,
                    description: r.description,
                    is_global: r.is_global,
                })
                .collect())
        })
        .await
    }
}

/// Fetches the grants of each user, a few requests at a time, keeping the
/// order asked.
async fn roles_of_users(
    client: falcon::Client,
    uuids: Vec<String>,
) -> Result<Vec<users::UserRoles>, PluginError> {
    let mut results: Vec<Option<users::UserRoles>> = vec![None; uuids.len()];
    let mut pending = uuids.into_iter().enumerate();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < ROLE_FANOUT {
            let Some((index, uuid)) = pending.next() else {
                break;
            };
            let client = client.clone();
            running.spawn(async move {
                let grants = client.users().roles_of_user(&uuid).await;
                (index, uuid, grants)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (index, uuid, grants) = joined.map_err(|e| {
            PluginError::Upstream(UpstreamError {
                status: 0,
                code: None,
                message: format!("host task failed while fetching roles: {e}"),
                trace_id: None,
            })
        })?;
        let grants = grants.map_err(to_plugin_error)?;
        results[index] = Some(users::UserRoles {
            user_uuid: uuid,
            grants: grants
                .into_iter()
                .map(|g| users::RoleGrant {
                    role_id: g.role_id,
                    role_name: g.role_name,
                    grant_type: g.grant_type,
                    expires_at: g.expires_at,
                })
                .collect(),
        });
    }
    Ok(results.into_iter().flatten().collect())
}

fn to_user(u: falcon::users::User) -> users::User {
    users::User {
        raw_json: u.raw.to_string(),
        uuid: u.uuid,
        uid: u.uid,
        first_name: u.first_name,
        last_name: u.last_name,
        status: u.status,
        created_at: u.created_at,
        last_login_at: u.last_login_at,
    }
}
