//! The agent desk (`/desk`) and the supervisor's wall (`/desk/supervisor`): static pages
//! embedded in the binary, no build step. They hold no secrets and need no credentials;
//! the scripts sign in with an agent token kept in the tab's `sessionStorage` and call
//! the same API with it, so the pages have exactly the API's authorisation. Every page
//! and asset is sent with a strict Content-Security-Policy: scripts and styles only from
//! these files, no inline script, no framing, no forms posting anywhere; with single
//! sign-on, the pages may also reach the identity provider's token endpoint.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use super::access::SignIn;
use super::error::ApiError;

/// Scripts, styles and connections only to this origin; nothing inline, no plugins, no
/// framing, no `<base>` tricks, no form posts.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

/// `CSP`, letting the pages also reach the identity provider's token endpoint (the one
/// request of the sign-in the page makes itself; the provider's login page is a
/// navigation, which CSP does not govern).
fn csp(sign_in: &SignIn) -> String {
    let origin = sign_in
        .0
        .as_ref()
        .and_then(|oidc| oidc.desk_config())
        .and_then(|(_, _, endpoints)| reqwest::Url::parse(&endpoints.token_endpoint).ok())
        .map(|url| url.origin().ascii_serialization())
        .filter(|origin| origin != "null");
    match origin {
        Some(origin) => CSP.replace(
            "connect-src 'self'",
            &format!("connect-src 'self' {origin}"),
        ),
        None => CSP.to_owned(),
    }
}

/// One embedded file and its media type.
struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// A file of `assets/`, embedded at build time.
macro_rules! embedded {
    ($name:literal, $mime:expr) => {
        Asset {
            name: $name,
            mime: $mime,
            body: include_str!(concat!("assets/", $name)),
        }
    };
}

const DESK: Asset = embedded!("desk.html", HTML);
const WALL: Asset = embedded!("supervisor.html", HTML);

const ASSETS: [Asset; 5] = [
    embedded!("sso.js", JS),
    embedded!("common.js", JS),
    embedded!("desk.js", JS),
    embedded!("wall.js", JS),
    embedded!("desk.css", CSS),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page("/desk").route(web::get().to(desk)))
        .service(page("/desk/supervisor").route(web::get().to(wall)))
        .service(page("/desk/assets/{name}").route(web::get().to(asset)));
}

/// A desk path answers GET only (the pages are not API routes, so the OpenAPI document
/// that gives every other resource its `Allow` does not name them).
fn page(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|req: actix_web::HttpRequest| async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed {
            detail: format!("{} is not allowed on {}", req.method(), req.path()),
            allow: "GET".to_owned(),
        })
    }))
}

async fn desk(sign_in: Option<web::Data<SignIn>>) -> HttpResponse {
    serve_with(&DESK, policy(sign_in))
}

async fn wall(sign_in: Option<web::Data<SignIn>>) -> HttpResponse {
    serve_with(&WALL, policy(sign_in))
}

fn policy(sign_in: Option<web::Data<SignIn>>) -> String {
    sign_in.map_or_else(|| CSP.to_owned(), |s| csp(&s))
}

async fn asset(name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    ASSETS
        .iter()
        .find(|a| a.name == name.as_str())
        .map(serve)
        .ok_or_else(|| ApiError::NotFound(format!("no desk asset `{name}`")))
}

/// The file with headers that keep it from being sniffed, framed, cached stale, or
/// leaking the page's address to anyone it links to.
fn serve(asset: &Asset) -> HttpResponse {
    serve_with(asset, CSP.to_owned())
}

fn serve_with(asset: &Asset, csp: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(asset.mime)
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(asset.body)
}
