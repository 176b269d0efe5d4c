//! The console's files, built into the binary: no build step, no CDN, nothing fetched at run
//! time. Every answer carries a Content-Security-Policy that allows scripts and styles from
//! this server only (no inline script, no `eval`), and the page may not be framed.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

/// What the page may load and where it may connect: this origin only. `blob:` and `data:`
/// images are the camera frames and QR previews drawn in the page.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; manifest-src 'self'; \
base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

/// The page and its files; `index.html` is served at `/console`, the rest under
/// `/console/assets/`.
pub const ASSETS: &[Asset] = &[
    Asset { name: "index.html", content_type: "text/html; charset=utf-8", body: include_bytes!("assets/index.html") },
    Asset { name: "console.css", content_type: "text/css; charset=utf-8", body: include_bytes!("assets/console.css") },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("assets/console.js"),
    },
    Asset { name: "i18n.js", content_type: "text/javascript; charset=utf-8", body: include_bytes!("assets/i18n.js") },
    Asset {
        name: "jsqr-1.4.0.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("assets/vendor/jsqr-1.4.0.js"),
    },
    Asset {
        name: "jsqr-LICENSE",
        content_type: "text/plain; charset=utf-8",
        body: include_bytes!("assets/vendor/jsqr-LICENSE"),
    },
    Asset { name: "icon.svg", content_type: "image/svg+xml", body: include_bytes!("assets/icon.svg") },
];

pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

/// A validator for an asset: its content's hash, so a new binary's files replace the old.
/// Hashed once per process (the QR decoder alone is 250 KB), not per request.
fn etag(asset: &Asset) -> &'static str {
    static TAGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let tags = TAGS.get_or_init(|| ASSETS.iter().map(|a| crate::http::etag::of(a.body)).collect());
    let index = ASSETS.iter().position(|a| a.name == asset.name).unwrap_or(0);
    &tags[index]
}

/// Answers with `asset`, or 304 when the browser holds this very version. Browsers check
/// again on each load (`no-cache`), so a new release is seen at once.
pub fn serve(req: &HttpRequest, asset: &'static Asset) -> HttpResponse {
    let tag = etag(asset);
    let held = crate::http::etag::held(req, tag);
    let mut answer = if held { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    answer
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header(("Permissions-Policy", "camera=(self), microphone=(), geolocation=()"));
    if held {
        return answer.finish();
    }
    answer.content_type(asset.content_type).body(asset.body)
}

async fn asset(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    match find(&name) {
        Some(asset) if asset.name != "index.html" => serve(&req, asset),
        _ => actix_web::ResponseError::error_response(&crate::error::ApiError::NotFound(format!(
            "no console file {name}"
        ))),
    }
}

/// The files under `/console/assets/`, outside the API document like Swagger UI's.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console/assets/{name}", web::get().to(asset));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(name: &str) -> &'static str {
        std::str::from_utf8(find(name).expect("the file").body).expect("UTF-8")
    }

    #[test]
    fn the_page_has_nothing_inline_that_the_policy_would_refuse() {
        let html = text("index.html");
        assert!(!html.contains("style="), "no inline styles");
        let handlers = regex::Regex::new(r"(?i)\son[a-z]+\s*=").unwrap();
        assert!(!handlers.is_match(html), "no inline event handlers");
        let scripts = regex::Regex::new(r"<script([^>]*)>").unwrap();
        for tag in scripts.captures_iter(html) {
            assert!(tag[1].contains("src=\"/console/assets/"), "scripts come from files: {}", &tag[0]);
        }
        for script in ["console.js", "i18n.js"] {
            let code = text(script);
            assert!(!code.contains("eval(") && !code.contains("new Function"), "{script} needs no eval");
            assert!(!code.contains("innerHTML"), "{script} builds the page from nodes, not markup");
        }
        // Every file the page names is embedded.
        let named = regex::Regex::new(r#"/console/assets/([A-Za-z0-9._-]+)"#).unwrap();
        for source in [html, text("console.js")] {
            for file in named.captures_iter(source) {
                assert!(find(&file[1]).is_some(), "{} is not embedded", &file[1]);
            }
        }
    }

    #[test]
    fn every_language_says_everything_and_keeps_its_placeholders() {
        let source = text("i18n.js");
        let block = regex::Regex::new(r"(?s)\n  ([a-z]{2}): \{(.*?)\n  \}").unwrap();
        let entry = regex::Regex::new(r#""([a-z_.]+)": "((?:[^"\\]|\\.)*)""#).unwrap();
        let placeholder = regex::Regex::new(r"\{[a-z]+\}").unwrap();
        let languages: Vec<(String, Vec<(String, String)>)> = block
            .captures_iter(source)
            .map(|b| {
                let entries = entry.captures_iter(&b[2]).map(|e| (e[1].to_string(), e[2].to_string())).collect();
                (b[1].to_string(), entries)
            })
            .collect();
        let names: Vec<&str> = languages.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["en", "pl", "ru", "es", "ar"]);
        let english = &languages[0].1;
        assert!(english.len() > 100);
        for (name, entries) in &languages[1..] {
            let keys: Vec<&String> = entries.iter().map(|(k, _)| k).collect();
            let expected: Vec<&String> = english.iter().map(|(k, _)| k).collect();
            assert_eq!(keys, expected, "{name} has the same keys as en");
            for ((key, text), (_, original)) in entries.iter().zip(english) {
                let mut ours: Vec<&str> = placeholder.find_iter(text).map(|m| m.as_str()).collect();
                let mut theirs: Vec<&str> = placeholder.find_iter(original).map(|m| m.as_str()).collect();
                ours.sort();
                theirs.sort();
                assert_eq!(ours, theirs, "{name} {key}");
            }
        }
    }
}
