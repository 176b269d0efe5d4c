//! The shopper's pickup pass page and the ready email, through HTTP and in a real browser
//! (headless chromium): what staff scan, the store and when, "I'm here" for curbside, the pass
//! spent once the order is collected, right to left in Arabic; and the ready email's inline
//! QR image as a browser draws it, module by module.

// Shared with tests/console.rs, which uses all of it.
#[allow(dead_code)]
#[path = "common/browser.rs"]
mod browser;
mod common;

use actix_web::http::Method;
use browser::{Browser, Options, Screen};
use common::TestApp;
use serde_json::json;

async fn setup(app: &TestApp) {
    let hours = json!({"mon": [["08:00", "22:00"]], "tue": [["08:00", "22:00"]], "wed": [["08:00", "22:00"]],
        "thu": [["08:00", "22:00"]], "fri": [["08:00", "22:00"]], "sat": [["09:00", "20:00"]], "sun": []});
    app.put_location(
        "S1",
        json!({"name": "Warsaw Centre", "address": "Marszalkowska 1, Warsaw", "opening_hours": hours}),
    )
    .await;
    app.put_product("A").await;
    app.count("S1", "A", 10).await;
}

/// A ready order for `customer` (in `locale`), its id and its pass token, worked out as the
/// messages work it out.
async fn ready(app: &TestApp, customer: &str, locale: &str, fulfilment: &str) -> (String, String) {
    let token = app.customer(customer);
    let profile =
        json!({"locale": locale, "channels": {"email": false, "sms": false, "push": false, "webhook": false}});
    app.put(&format!("/v1/customers/{customer}"), Some(&token), &profile).await.ok();
    let body = json!({"location": "S1", "fulfilment": fulfilment, "customer_id": customer,
        "lines": [{"sku": "A", "quantity": 1}]});
    let order = app.post("/v1/orders", Some(&token), &body).await.ok().clone();
    let id = order["id"].as_str().unwrap().to_string();
    let staff = app.staff("S1");
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&staff).send().await.ok();
    }
    (id.clone(), pass_token(app, &id))
}

fn pass_token(app: &TestApp, id: &str) -> String {
    use clickcollect::db::schema::orders;
    use diesel::prelude::*;
    let (number, nonce): (String, Option<String>) =
        orders::table.find(id).select((orders::number, orders::pickup_code_nonce)).first(&mut *app.conn()).unwrap();
    clickcollect::orders::pickup::pass_token(&app.state.keys.pickup_key, &number, id, &nonce.unwrap())
}

async fn code_of(app: &TestApp, id: &str, customer: &str) -> String {
    let mine = app.get(&format!("/v1/orders/{id}"), Some(&app.customer(customer))).await;
    mine.ok()["pickup_code"].as_str().unwrap().to_string()
}

async fn the_pass_shows_what_staff_scan_and_is_spent_once_collected(app: TestApp) {
    setup(&app).await;
    let (id, token) = ready(&app, "ann", "en-GB", "pickup").await;
    let code = code_of(&app, &id, "ann").await;
    let page = app.get(&format!("/pass/{token}"), None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.contains("default-src 'none'") && !policy.contains("script-src"), "no script at all: {policy}");
    assert_eq!(page.header("cache-control"), Some("no-store"));
    for shown in [code.as_str(), "Warsaw Centre", "Marszalkowska 1, Warsaw", "openstreetmap.org", "Collect by", "<svg"]
    {
        assert!(page.text.contains(shown), "{shown} on the pass");
    }
    assert!(!page.text.contains("/arrival"), "no 'I'm here' for an order collected at the counter");
    let shared = app.get(&format!("/pass/{token}?utm_source=sms&utm_medium=ready"), None).await;
    assert_eq!(shared.status, 200, "a link with a campaign's parameters still opens");

    // Anything but the pass opens nothing.
    let forged = format!("{}-{}", token.split('-').next().unwrap(), "0".repeat(16));
    for wrong in [forged.as_str(), "7F3A9C21", "nonsense-link"] {
        let reply = app.get(&format!("/pass/{wrong}"), None).await;
        assert_eq!(reply.status, 404, "{wrong}");
        assert!(reply.text.contains("no such pickup pass"), "{}", reply.text);
    }

    // Collected: the pass is spent.
    let staff = app.staff("S1");
    app.post("/v1/stores/S1/pickups", Some(&staff), &json!({"code": code})).await.ok();
    let spent = app.get(&format!("/pass/{token}"), None).await;
    assert_eq!(spent.status, 410);
    assert!(spent.text.contains("no longer valid") && spent.text.contains("collected"), "{}", spent.text);
    assert!(!spent.text.contains(&code), "a spent pass shows no code");
}

async fn im_here_is_sent_from_the_pass(app: TestApp) {
    setup(&app).await;
    let (id, token) = ready(&app, "bob", "en", "curbside").await;
    let path = format!("/pass/{token}/arrival");
    let form = |body: &str| app.request(Method::POST, &path).raw("application/x-www-form-urlencoded", body.to_string());
    let sent = form("bay=4&vehicle=red+estate+KR+9876").send().await;
    assert_eq!(sent.status, 303, "{}", sent.text);
    assert_eq!(sent.header("location"), Some(format!("/pass/{token}").as_str()));
    let order = app.get(&format!("/v1/orders/{id}"), Some(&app.staff("S1"))).await.ok().clone();
    assert_eq!(order["arrival"]["bay"], "4");
    assert_eq!(order["arrival"]["vehicle"], "red estate KR 9876");
    let page = app.get(&format!("/pass/{token}"), None).await;
    assert!(page.text.contains("id=\"arrived\""), "the pass says it was heard");

    // Refusals, each an HTML page.
    assert_eq!(form("bay=4&colour=red").send().await.status, 422);
    assert_eq!(form(&format!("bay={}", "9".repeat(40))).send().await.status, 422);
    let json_body = app.request(Method::POST, &path).json(&json!({"bay": "4"})).send().await;
    assert_eq!(json_body.status, 415);
    assert_eq!(
        app.request(Method::POST, "/pass/7F3A9C21-0123456789ABCDEF/arrival")
            .raw("application/x-www-form-urlencoded", "bay=1")
            .send()
            .await
            .status,
        404
    );
    let (_, counter) = ready(&app, "cat", "en", "pickup").await;
    let counter_only = app
        .request(Method::POST, &format!("/pass/{counter}/arrival"))
        .raw("application/x-www-form-urlencoded", "bay=1")
        .send()
        .await;
    assert_eq!(counter_only.status, 409, "{}", counter_only.text);
    let code = code_of(&app, &id, "bob").await;
    app.post("/v1/stores/S1/pickups", Some(&app.staff("S1")), &json!({"code": code})).await.ok();
    assert_eq!(form("bay=5").send().await.status, 410);
}

/// On a phone, in a real browser: the QR code large enough to scan, the code in large type,
/// "I'm here" sent by the form; in Arabic, right to left.
async fn the_pass_on_a_phone(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let (id, token) = ready(&app, "dan", "en", "curbside").await;
    let Some(browser) = Browser::open(Options { screen: Screen::Phone, ..Options::default() }).await else { return };
    browser.goto(&format!("{base}/pass/{token}")).await;
    let qr = browser
        .eval("const r = document.querySelector('#qr svg').getBoundingClientRect(); return [r.width, r.height]")
        .await;
    let side = qr[0].as_f64().unwrap();
    assert!(side >= 200.0 && (side - qr[1].as_f64().unwrap()).abs() < 1.0, "a square QR code a scanner can read: {qr}");
    let code = code_of(&app, &id, "dan").await;
    assert_eq!(browser.text_of("#code").await.trim(), code);
    let size = browser.eval("return getComputedStyle(document.getElementById('code')).fontSize").await;
    assert_eq!(size, "32px", "the stylesheet applies under the policy");
    let sideways = browser.eval("return document.documentElement.scrollWidth > window.innerWidth").await;
    assert_eq!(sideways, false, "no sideways scrolling on a phone");
    browser.type_into("#bay", "7").await;
    browser.type_into("#vehicle", "blue Skoda WA 12345").await;
    browser.click("#here button").await;
    browser.until("the arrival to be heard", "return document.getElementById('arrived') !== null").await;
    let order = app.get(&format!("/v1/orders/{id}"), Some(&app.staff("S1"))).await.ok().clone();
    assert_eq!(order["arrival"]["vehicle"], "blue Skoda WA 12345");
    let phone_shot = screenshots_wanted(&app).then(|| docs("docs/notifications/pass-phone.png"));
    if let Some(path) = &phone_shot {
        browser.screenshot(path).await;
    }

    let (_, arabic) = ready(&app, "eve", "ar", "pickup").await;
    browser.goto(&format!("{base}/pass/{arabic}")).await;
    assert_eq!(browser.eval("return document.documentElement.dir").await, "rtl");
    assert_eq!(browser.eval("return getComputedStyle(document.body).direction").await, "rtl");
    assert!(browser.text_of("h1").await.contains("تصريح الاستلام"));
    assert_eq!(
        browser.eval("return getComputedStyle(document.getElementById('code')).direction").await,
        "ltr",
        "the code reads left to right"
    );
}

fn docs(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// `UPDATE_CONSOLE_SCREENSHOTS=1 cargo test --test pass` refreshes the pictures in
/// docs/notifications/ (SQLite only: one set).
fn screenshots_wanted(app: &TestApp) -> bool {
    std::env::var("UPDATE_CONSOLE_SCREENSHOTS").is_ok_and(|v| v == "1") && app.backend == common::Backend::Sqlite
}

/// The ready email as a mail client shows it: its HTML with the inline QR image (the PNG the
/// email carries under its Content-ID), drawn by a real browser. Every module the browser
/// draws is the module the QR code has; the code is in large type; Arabic runs right to left.
async fn the_ready_email_in_a_browser(app: TestApp) {
    use clickcollect::notify::locale::Lang;
    use clickcollect::notify::templates::{render_email, EmailData, QR_CONTENT_ID};
    use clickcollect::orders::events::Event;
    let Some(browser) = Browser::open(Options { screen: Screen::Phone, ..Options::default() }).await else { return };
    let code = "K7M2Q9TX4B";
    let data = EmailData {
        customer_name: Some("Ann".into()),
        order: "7F3A9C21".into(),
        store: "Warsaw Centre".into(),
        address: Some("Marszalkowska 1, Warsaw".into()),
        opening_hours: vec![("mon".into(), "08:00-22:00".into())],
        code: Some(code.into()),
        deadline: Some("Wed 02 Dec 22:00".into()),
        slot: Some("Tue 01 Dec 10:30-11:00".into()),
        pass_url: Some("https://shop.example/pass/7F3A9C21-0123456789ABCDEF".into()),
        map_url: Some("https://www.openstreetmap.org/?mlat=52.2297&mlon=21.0122".into()),
        ..EmailData::default()
    };
    let qr = qrcode::QrCode::new(code.as_bytes()).unwrap();
    let (modules, colors) = (qr.width(), qr.to_colors());
    for lang in [Lang::En, Lang::Ar] {
        let email = render_email(lang, Event::ReadyForPickup, &data);
        assert!(
            email.text.contains(code) && email.text.contains("/pass/"),
            "text-only clients get the code and the link"
        );
        let (id, png) = &email.inline_png[0];
        assert_eq!(*id, QR_CONTENT_ID);
        use base64::Engine as _;
        let inline = format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(png));
        let html = email.html.replace(&format!("cid:{QR_CONTENT_ID}"), &inline);
        let file = std::env::temp_dir().join(format!("cc-ready-email-{}.html", uuid::Uuid::new_v4().simple()));
        std::fs::write(&file, &html).unwrap();
        browser.goto(&format!("file://{}", file.display())).await;
        browser
            .until(
                "the QR image to load",
                "const i = document.querySelector('#pass img'); return i && i.complete && i.naturalWidth > 0",
            )
            .await;
        // Read the image back through a canvas and sample the centre of every module.
        let drawn = browser
            .eval(&format!(
                "const i = document.querySelector('#pass img'); const c = document.createElement('canvas'); \
                 c.width = i.naturalWidth; c.height = i.naturalHeight; const g = c.getContext('2d'); g.drawImage(i, 0, 0); \
                 const scale = i.naturalWidth / ({modules} + 8); const out = []; \
                 for (let y = 0; y < {modules}; y++) for (let x = 0; x < {modules}; x++) {{ \
                   const p = g.getImageData(Math.floor((x + 4.5) * scale), Math.floor((y + 4.5) * scale), 1, 1).data; \
                   out.push(p[0] < 128 ? 1 : 0); }} return out;"
            ))
            .await;
        let expected: Vec<u8> = colors.iter().map(|c| u8::from(*c == qrcode::Color::Dark)).collect();
        let drawn: Vec<u8> = drawn.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
        assert_eq!(drawn, expected, "{lang:?}: the browser draws the QR code module for module");
        let shown =
            browser.eval("const i = document.querySelector('#pass img'); return i.width === i.naturalWidth").await;
        assert_eq!(shown, true, "the QR image at its own size, not stretched");
        let big = browser.eval("return getComputedStyle(document.querySelector('#pass p')).fontSize").await;
        assert_eq!(big, "32px", "the code in large type");
        assert_eq!(
            browser.eval("return getComputedStyle(document.body).direction").await,
            if lang == Lang::Ar { "rtl" } else { "ltr" }
        );
        let buttons = browser.eval("return [...document.querySelectorAll('#pass a')].map(a => a.href)").await;
        assert_eq!(buttons.as_array().unwrap().len(), 2, "the pass and the map: {buttons}");
        if screenshots_wanted(&app) {
            let name = if lang == Lang::Ar { "ready-email-arabic.png" } else { "ready-email.png" };
            browser.screenshot(&docs(&format!("docs/notifications/{name}"))).await;
        }
        std::fs::remove_file(&file).ok();
    }
}

on_both_backends!(the_pass_shows_what_staff_scan_and_is_spent_once_collected, im_here_is_sent_from_the_pass,);

on_both_backends!(
    browsers with &[];
    the_pass_on_a_phone,
    the_ready_email_in_a_browser,
);
