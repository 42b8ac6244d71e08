//! Who may call a route: extractors over the caller the middleware identified (or, when
//! it did not run, the presented token checked here). A refused or missing credential is
//! 401; a valid one of another kind of caller is 403.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use super::{Caller, Tokens};
use crate::app::Actor;
use crate::domain::AgentId;
use crate::http::error::ApiError;

/// A channel adapter (`SWITCHBOARD_ADAPTER_TOKENS`).
#[derive(Debug)]
pub struct Adapter;

/// An administrator (`SWITCHBOARD_ADMIN_TOKEN`).
#[derive(Debug)]
pub struct Admin;

/// An administrator or an agent: what an agent may reach is checked per resource.
#[derive(Debug)]
pub struct Staff(pub Caller);

/// Who may watch the whole floor: an administrator or a supervisor.
#[derive(Debug)]
pub struct Watcher(pub Caller);

/// Anyone with a valid token: an adapter, an admin or an agent.
#[derive(Debug)]
pub struct AnyCaller(pub Caller);

impl FromRequest for AnyCaller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| Some(AnyCaller(c)))
    }
}

impl Staff {
    /// Admins reach every agent; an agent (supervisor or not) only itself.
    pub fn may_act_as(&self, agent: &AgentId) -> bool {
        match &self.0 {
            Caller::Admin => true,
            Caller::Agent(me) | Caller::Supervisor(me) => me == agent,
            Caller::Adapter => false,
        }
    }

    /// The staff member as the use cases see them.
    pub fn actor(&self) -> Actor {
        match &self.0 {
            Caller::Agent(me) => Actor::Agent(me.clone()),
            Caller::Supervisor(me) => Actor::Supervisor(me.clone()),
            Caller::Admin | Caller::Adapter => Actor::Admin,
        }
    }

    /// What an agent's desk shows may also be read by a supervisor.
    pub fn may_read_as(&self, agent: &AgentId) -> bool {
        matches!(self.0, Caller::Supervisor(_)) || self.may_act_as(agent)
    }
}

fn extract<T>(
    req: &HttpRequest,
    accept: impl FnOnce(Caller) -> Option<T>,
) -> Ready<Result<T, ApiError>> {
    ready(Tokens::of(req).and_then(|caller| accept(caller).ok_or(ApiError::Forbidden)))
}

impl FromRequest for Adapter {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| (c == Caller::Adapter).then_some(Adapter))
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| (c == Caller::Admin).then_some(Admin))
    }
}

impl FromRequest for Watcher {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| {
            matches!(c, Caller::Admin | Caller::Supervisor(_)).then_some(Watcher(c))
        })
    }
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        extract(req, |c| (c != Caller::Adapter).then_some(Staff(c)))
    }
}
