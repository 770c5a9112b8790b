//! Who is calling: token names, roles and the actions a token may use. Only
//! a sha256 of each token is stored.

use serde::Serialize;
use sha2::{Digest, Sha256};

use leash_store::TokenRow;

use crate::{Engine, EngineError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Reviewer,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "agent" => Role::Agent,
            "reviewer" => Role::Reviewer,
            "admin" => Role::Admin,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }
}

/// An authenticated caller; its name is what the journal records.
#[derive(Debug, Clone, Serialize)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    /// Empty: every action.
    pub actions: Vec<String>,
}

impl Caller {
    /// The person at the terminal with the database in hand: may do anything.
    pub fn local(name: &str) -> Caller {
        Caller { name: name.to_string(), role: Role::Admin, actions: Vec::new() }
    }

    pub fn may_call(&self, action: &str) -> bool {
        self.actions.is_empty() || self.actions.iter().any(|a| a == action)
    }

    pub fn require(&self, role: Role, what: &str) -> Result<()> {
        if self.role >= role {
            Ok(())
        } else {
            Err(EngineError::Forbidden(format!(
                "{} has the {} role; {what} needs a {} token",
                self.name,
                self.role.as_str(),
                role.as_str()
            )))
        }
    }
}

pub const TOKEN_PREFIX: &str = "leash_";
/// How long a known token's rights are remembered before they are read again.
pub const TOKEN_CACHE_TTL_MS: u64 = 1_000;
pub const TOKEN_CACHE_ENTRIES_MAX: usize = 10_000;

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn caller_of(row: TokenRow) -> Result<Caller> {
    let mut role = Role::parse(&row.role)
        .ok_or_else(|| EngineError::Invalid(format!("token {} has unknown role {}", row.name, row.role)))?;
    // Older versions stored reviewer/admin tokens with `--actions`, which
    // never limited reviewing; such a token now acts as an agent token for
    // those actions only, never as a reviewer of everything.
    if role != Role::Agent && !row.actions.is_empty() {
        tracing::warn!(token = %row.name, "a scoped {} token acts as an agent token; recreate it without --actions", role.as_str());
        role = Role::Agent;
    }
    Ok(Caller { name: row.name, role, actions: row.actions })
}

impl Engine {
    /// Creates a token and returns its secret, shown once.
    pub async fn create_token(&self, by: &Caller, name: &str, role: Role, actions: Vec<String>) -> Result<String> {
        by.require(Role::Admin, "managing tokens")?;
        if !leash_core::policy::is_identifier(&name.replace(['-', '.'], "_")) {
            return Err(EngineError::Invalid(format!("`{name}` is not a token name; use letters, digits, - _ .")));
        }
        if role != Role::Agent && !actions.is_empty() {
            return Err(EngineError::Invalid(format!(
                "scoping applies to agent tokens; a {} token reviews every action. Create it without --actions, \
                 or use an agent token for the actions",
                role.as_str()
            )));
        }
        if let Some(unknown) = actions.iter().find(|a| self.policy().action(a).is_none()) {
            return Err(EngineError::Invalid(format!("no action named `{unknown}` in the policy")));
        }
        if self.store().token(name).await?.is_some() {
            return Err(EngineError::Invalid(format!("a token named {name} exists; revoke it or pick another name")));
        }
        let mut secret = [0u8; 24];
        getrandom::fill(&mut secret).map_err(|e| EngineError::Invalid(format!("no randomness: {e}")))?;
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
        let row = TokenRow {
            name: name.to_string(),
            role: role.as_str().to_string(),
            actions,
            created_at: self.clock().stamp(),
            revoked_at: None,
        };
        let mut tx = self.store().begin().await?;
        tx.save_token(&row, &token_hash(&token)).await?;
        tx.commit().await?;
        Ok(token)
    }

    pub async fn revoke_token(&self, by: &Caller, name: &str) -> Result<()> {
        by.require(Role::Admin, "managing tokens")?;
        let mut tx = self.store().begin().await?;
        if !tx.revoke_token(name, &self.clock().stamp()).await? {
            return Err(EngineError::NotFound(format!("active token {name}")));
        }
        tx.commit().await?;
        // This process forgets at once; others within TOKEN_CACHE_TTL_MS.
        crate::lock(&self.token_cache).retain(|_, (c, _)| c.name != name);
        Ok(())
    }

    /// A bearer token's caller; `None` for an unknown or revoked token.
    /// Known tokens are remembered for `TOKEN_CACHE_TTL_MS`, so a busy agent
    /// costs one look-up per second, not one per request; a revocation takes
    /// effect in every process within that time. Unknown tokens are never cached.
    pub async fn caller_for_token(&self, token: &str) -> Result<Option<Caller>> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 200 {
            return Ok(None);
        }
        let hash = token_hash(token);
        let now = std::time::Instant::now();
        if let Some((caller, at)) = crate::lock(&self.token_cache).get(&hash) {
            if now.duration_since(*at).as_millis() < TOKEN_CACHE_TTL_MS as u128 {
                return Ok(Some(caller.clone()));
            }
        }
        let caller = match self.store().token_by_hash(&hash).await? {
            Some(row) if row.revoked_at.is_none() => caller_of(row)?,
            _ => {
                crate::lock(&self.token_cache).remove(&hash);
                return Ok(None);
            }
        };
        let mut cache = crate::lock(&self.token_cache);
        if cache.len() >= TOKEN_CACHE_ENTRIES_MAX {
            cache.clear();
        }
        cache.insert(hash, (caller.clone(), now));
        Ok(Some(caller))
    }

    /// `--as NAME` on the command line: the named, unrevoked token's rights.
    pub async fn caller_named(&self, name: &str) -> Result<Caller> {
        match self.store().token(name).await? {
            Some(row) if row.revoked_at.is_none() => caller_of(row),
            Some(_) => Err(EngineError::Forbidden(format!("the token {name} was revoked"))),
            None => Err(EngineError::Forbidden(format!(
                "no token is named {name}; create one with `leash token create {name} --role agent --actions …`"
            ))),
        }
    }
}
