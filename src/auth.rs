//! Bearer-token callers. Tokens are compared in constant time; a missing or unknown
//! token is 401, a known token on a route for another kind of caller is 403.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The tokens this deployment accepts.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    admin: Option<String>,
    adapters: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Admin,
    Adapter,
}

impl Tokens {
    pub fn new(admin: Option<String>, adapters: Vec<String>) -> Self {
        Self { admin, adapters }
    }

    /// Checks every token, whatever matches first, so timing says nothing of which one did.
    fn role_of(&self, presented: &str) -> Option<Role> {
        let same = |t: &String| bool::from(t.as_bytes().ct_eq(presented.as_bytes()));
        let admin = self.admin.iter().fold(false, |hit, t| hit | same(t));
        let adapter = self.adapters.iter().fold(false, |hit, t| hit | same(t));
        match (admin, adapter) {
            (true, _) => Some(Role::Admin),
            (false, true) => Some(Role::Adapter),
            _ => None,
        }
    }
}

fn role(req: &HttpRequest) -> Result<Role, ApiError> {
    let tokens = req
        .app_data::<web::Data<Tokens>>()
        .ok_or_else(|| ApiError::Internal("token table not configured".into()))?;
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(ApiError::Unauthorized)?;
    tokens.role_of(presented).ok_or(ApiError::Unauthorized)
}

/// A channel adapter (`SWITCHBOARD_ADAPTER_TOKENS`).
#[derive(Debug)]
pub struct Adapter;

/// An administrator (`SWITCHBOARD_ADMIN_TOKEN`).
#[derive(Debug)]
pub struct Admin;

impl FromRequest for Adapter {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match role(req) {
            Ok(Role::Adapter) => Ok(Adapter),
            Ok(Role::Admin) => Err(ApiError::Forbidden),
            Err(e) => Err(e),
        })
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match role(req) {
            Ok(Role::Admin) => Ok(Admin),
            Ok(Role::Adapter) => Err(ApiError::Forbidden),
            Err(e) => Err(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_map_to_roles() {
        let t = Tokens::new(Some("adm".into()), vec!["a1".into(), "a2".into()]);
        assert_eq!(t.role_of("adm"), Some(Role::Admin));
        assert_eq!(t.role_of("a2"), Some(Role::Adapter));
        assert_eq!(t.role_of("a"), None);
        assert_eq!(t.role_of(""), None);
        assert_eq!(Tokens::default().role_of(""), None);
    }
}
