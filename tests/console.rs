//! The store console in a real browser (headless chromium through chromedriver), against the
//! real server on each backend: pairing, the live pick list, picking, curbside, handover by
//! scanner, camera and typing, the wrong-code messages, counting, Arabic, and one store's
//! console kept out of another's. Orders and arrivals come in through the API, as a shop
//! would send them. Plus the console's own API: links, pairing, devices and revocation.

#[path = "common/browser.rs"]
mod browser;
mod common;

use actix_web::http::Method;
use browser::{Browser, Options, Screen};
use common::TestApp;
use serde_json::{json, Value};

async fn setup(app: &TestApp) {
    app.put_location("S1", json!({"name": "Warsaw Centre", "pickup": {"in_store": true, "curbside": true}})).await;
    app.put_location("S2", json!({"name": "Kraków Market", "pickup": {"in_store": true, "curbside": true}})).await;
    app.put_product("A").await;
    app.put_product("B").await;
    app.count("S1", "A", 10).await;
    app.count("S1", "B", 4).await;
    app.count("S2", "A", 5).await;
}

/// A pairing link for `store` from the API, pointed at the served address.
async fn link(app: &TestApp, base: &str, store: &str) -> (String, String) {
    let reply = app
        .request(Method::POST, &format!("/v1/stores/{store}/console-links"))
        .bearer(&app.admin())
        .json(&json!({"label": "Counter tablet"}))
        .send()
        .await;
    let link = reply.ok().clone();
    let fragment = link["url"].as_str().unwrap().split_once('#').unwrap().1.to_string();
    (format!("{base}/console#{fragment}"), link["device_id"].as_str().unwrap().to_string())
}

/// Opens a pairing link in the browser and waits for the console of `store`, live.
async fn pair(app: &TestApp, base: &str, browser: &Browser, store: &str) -> String {
    let (url, device) = link(app, base, store).await;
    browser.goto(&url).await;
    browser.until("the console to go live", "return document.getElementById('conn').dataset.state === 'live'").await;
    device
}

async fn order(app: &TestApp, store: &str, customer: &str, fulfilment: &str, lines: Value) -> Value {
    let body = json!({"location": store, "fulfilment": fulfilment, "customer_id": customer, "lines": lines});
    app.post("/v1/orders", Some(&app.customer(customer)), &body).await.ok().clone()
}

/// An order made ready through the API, and its customer's pickup code.
async fn ready_order(app: &TestApp, store: &str, customer: &str, quantity: i64) -> (Value, String) {
    let placed = order(app, store, customer, "pickup", json!([{"sku": "A", "quantity": quantity}])).await;
    let id = placed["id"].as_str().unwrap();
    let staff = app.staff(store);
    for step in ["picking", "ready"] {
        app.request(Method::POST, &format!("/v1/orders/{id}/{step}")).bearer(&staff).send().await.ok();
    }
    let mine = app.get(&format!("/v1/orders/{id}"), Some(&app.customer(customer))).await.ok().clone();
    let code = mine["pickup_code"].as_str().unwrap().to_string();
    (placed, code)
}

fn id(order: &Value) -> &str {
    order["id"].as_str().unwrap()
}

fn number(order: &Value) -> &str {
    order["number"].as_str().unwrap()
}

async fn status(app: &TestApp, order: &Value) -> String {
    let found = app.get(&format!("/v1/orders/{}", id(order)), Some(&app.admin())).await;
    found.ok()["status"].as_str().unwrap().to_string()
}

/// The order's card in the list is shown.
fn card(order: &Value) -> String {
    format!("button.order[data-number='{}']", number(order))
}

async fn pairing_signs_the_device_in_and_revoking_signs_it_out(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let Some(browser) = Browser::open(Options::default()).await else { return };
    let device = pair(&app, &base, &browser, "S1").await;
    let title = browser.text_of("#title").await;
    assert!(title.contains("Warsaw Centre"), "{title}");
    let url = browser.eval("return location.href").await;
    assert!(!url.as_str().unwrap().contains("pair="), "the code left the address bar: {url}");
    let saved = browser.eval("return JSON.parse(localStorage.getItem('clickcollect.console'))").await;
    assert_eq!(saved["store"], "S1");
    assert_eq!(saved["device_id"], device.as_str());
    let token = saved["token"].as_str().unwrap().to_string();

    // The device is listed as active, and its token is a staff token of S1 only.
    let devices = app.get("/v1/stores/S1/console-devices", Some(&app.admin())).await.ok().clone();
    assert_eq!(devices["items"][0]["id"], device.as_str());
    assert_eq!(devices["items"][0]["status"], "active");
    assert_eq!(devices["items"][0]["label"], "Counter tablet");
    assert_eq!(app.get("/v1/stores/S1/orders", Some(&token)).await.status, 200);
    app.get("/v1/stores/S2/orders", Some(&token)).await.assert_problem(403, "forbidden");

    // Revoked: the next thing the console does is refused, and it asks to be paired again.
    let revoked = app
        .request(Method::DELETE, &format!("/v1/stores/S1/console-devices/{device}"))
        .bearer(&app.admin())
        .send()
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    app.get("/v1/stores/S1/orders", Some(&token)).await.assert_problem(401, "unauthorized");
    browser.click("#refresh").await;
    let message = browser.text_of("#signin-status").await;
    assert!(message.contains("signed out"), "{message}");
    assert!(browser.eval("return localStorage.getItem('clickcollect.console')").await.is_null());
}

async fn a_new_order_appears_without_reload_with_a_cue(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let Some(browser) = Browser::open(Options::default()).await else { return };
    pair(&app, &base, &browser, "S1").await;
    browser.until("the empty list", "return !document.getElementById('orders-empty').hidden").await;
    browser.eval("window.reloadedMarker = 'same page'; return true").await;

    let placed =
        order(&app, "S1", "ann", "pickup", json!([{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}])).await;
    let text = browser.text_of(&card(&placed)).await;
    assert!(text.contains("Product A") && text.contains("2 ×"), "lines with names and quantities: {text}");
    let toasts = browser.until("the cue", "return window.consoleDiagnostics.toasts.join(' | ')").await;
    assert!(toasts.as_str().unwrap().contains(number(&placed)), "a visible cue names the order: {toasts}");
    let chimes = browser.eval("return window.consoleDiagnostics.chimes").await;
    assert!(chimes.as_u64().unwrap() >= 1, "and an audible one");
    assert_eq!(browser.eval("return window.reloadedMarker").await, "same page", "no reload");
    // Another store's order never shows here.
    let elsewhere = order(&app, "S2", "bob", "pickup", json!([{"sku": "A", "quantity": 1}])).await;
    let again = order(&app, "S1", "cy", "pickup", json!([{"sku": "A", "quantity": 1}])).await;
    browser.shown(&card(&again)).await;
    let listed = browser.eval(&format!("return !!document.querySelector(\"{}\")", card(&elsewhere))).await;
    assert_eq!(listed, false);
}

async fn picking_then_ready_from_the_order_screen(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let Some(browser) = Browser::open(Options { screen: Screen::Phone, ..Options::default() }).await else { return };
    let placed =
        order(&app, "S1", "ann", "pickup", json!([{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 2}])).await;
    pair(&app, &base, &browser, "S1").await;
    browser.click(&card(&placed)).await;
    assert!(browser.text_of("#order-title").await.contains(number(&placed)));
    browser.click("#act-start").await;
    browser.until("picking", "return document.getElementById('order-notice').innerText.includes('Picking')").await;
    assert_eq!(status(&app, &placed).await, "picking");

    // One unit of B is missing: short-picked from the order screen.
    browser.click("button[data-sku='B']").await;
    browser.type_into("#short-units", "1").await;
    browser.click("#short-form button[type=submit]").await;
    browser
        .until("the short pick", "return document.getElementById('order-notice').innerText.includes('missing')")
        .await;
    let after = app.get(&format!("/v1/orders/{}", id(&placed)), Some(&app.admin())).await.ok().clone();
    assert_eq!(after["lines"][1]["quantity"], 1);

    browser.click("#act-ready").await;
    browser.until("ready", "return document.getElementById('order-notice').innerText.includes('ready')").await;
    assert_eq!(status(&app, &placed).await, "ready_for_pickup");
    assert!(browser.shown("#act-handover").await.is_displayed().await.unwrap());
}

async fn an_order_at_risk_stands_out_and_ready_says_why_not(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let Some(browser) = Browser::open(Options::default()).await else { return };
    let placed = order(&app, "S1", "ann", "pickup", json!([{"sku": "B", "quantity": 3}])).await;
    let fine = order(&app, "S1", "bob", "pickup", json!([{"sku": "A", "quantity": 1}])).await;
    pair(&app, &base, &browser, "S1").await;
    // A recount finds one unit where three are promised.
    app.count("S1", "B", 1).await;
    browser.until("the risk", &format!("return !!document.querySelector(\"{}.at-risk\")", card(&placed))).await;
    assert!(browser.text_of(&card(&placed)).await.contains("At risk"));
    assert_eq!(browser.eval(&format!("return !!document.querySelector(\"{}.at-risk\")", card(&fine))).await, false);
    browser.click(&card(&placed)).await;
    assert!(browser.text_of("#order-notice").await.contains("At risk"));
    browser.click("#act-start").await;
    browser.until("picking", "return document.getElementById('order-notice').innerText.includes('Picking')").await;
    browser.click("#act-ready").await;
    browser.until("the refusal", "return document.querySelector('#order-notice .error') !== null").await;
    let message = browser.text_of("#order-notice").await;
    assert!(message.contains("cannot be marked ready"), "the problem's detail: {message}");
    assert_eq!(status(&app, &placed).await, "picking");
}

async fn cancelling_keeps_the_reason(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let Some(browser) = Browser::open(Options::default()).await else { return };
    let placed = order(&app, "S1", "ann", "pickup", json!([{"sku": "A", "quantity": 3}])).await;
    pair(&app, &base, &browser, "S1").await;
    browser.click(&card(&placed)).await;
    assert!(browser.text_of("#order-title").await.contains(number(&placed)));
    browser.click("#act-cancel").await;
    browser.eval("document.getElementById('cancel-reason').value = 'damaged'; return true").await;
    browser.click("#cancel-form button[type=submit]").await;
    browser.until("cancelled", "return document.getElementById('order-notice').innerText.includes('cancelled')").await;
    let after = app.get(&format!("/v1/orders/{}", id(&placed)), Some(&app.admin())).await.ok().clone();
    assert_eq!(after["status"], "cancelled");
    let event = after["events"].as_array().unwrap().iter().find(|e| e["kind"] == "cancelled").unwrap().clone();
    assert_eq!(event["detail"]["reason"], "Damaged");
    assert!(event["actor"].as_str().unwrap().starts_with("staff:device:"), "the device signs its actions: {event}");
    assert_eq!(app.level("S1", "A").await["reserved"], 0);
}

async fn a_curbside_arrival_jumps_to_the_top(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let Some(browser) = Browser::open(Options::default()).await else { return };
    let first = order(&app, "S1", "ann", "pickup", json!([{"sku": "A", "quantity": 1}])).await;
    // Bob booked a curbside slot for tomorrow: the list shows it.
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let rules = json!({"rules": [{"fulfilment": "curbside", "days": days, "from": "10:00", "to": "11:00", "minutes": 30, "capacity": 6}]});
    app.put("/v1/locations/S1/slots", Some(&app.admin()), &rules).await.ok();
    let tomorrow = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Warsaw).date_naive().succ_opt().unwrap();
    let slots = app.get(&format!("/v1/locations/S1/slots?date={tomorrow}"), None).await.ok().clone();
    let body = json!({"location": "S1", "fulfilment": "curbside", "customer_id": "bob",
        "lines": [{"sku": "B", "quantity": 1}], "slot_id": slots["items"][0]["id"]});
    let curbside = app.post("/v1/orders", Some(&app.customer("bob")), &body).await.ok().clone();
    pair(&app, &base, &browser, "S1").await;
    browser.shown(&card(&curbside)).await;
    let slot_shown = browser.text_of(&card(&curbside)).await;
    assert!(slot_shown.contains("Slot "), "the booked slot is on the card: {slot_shown}");
    let arrival = json!({"bay": "4", "vehicle": "red estate KR 9876"});
    app.post(&format!("/v1/orders/{}/arrival", id(&curbside)), Some(&app.customer("bob")), &arrival).await.ok();

    let top = browser
        .until(
            "the arrival on top",
            "const first = document.querySelector('button.order'); \
             return first && first.closest('#arrivals') ? first.dataset.number : null",
        )
        .await;
    assert_eq!(top, number(&curbside));
    let text = browser.text_of(&format!("#arrivals {}", card(&curbside))).await;
    assert!(text.contains("Bay 4") && text.contains("red estate KR 9876") && text.contains("Waiting"), "{text}");
    // The waited time counts up by itself.
    let waited = |t: &str| t.lines().find(|l| l.contains("Waiting")).unwrap_or("").to_string();
    let before = waited(&text);
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let later = waited(&browser.text_of(&format!("#arrivals {}", card(&curbside))).await);
    assert_ne!(before, later, "the waiting time counts up");
    let toasts = browser.eval("return window.consoleDiagnostics.toasts.join(' | ')").await;
    assert!(toasts.as_str().unwrap().contains("arrived"), "{toasts}");
    let rest =
        browser.eval("return [...document.querySelectorAll('#orders button.order')].map(b => b.dataset.number)").await;
    assert_eq!(rest, json!([number(&first)]));
}

async fn a_handover_by_keyboard_wedge_collects_and_takes_the_stock(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let Some(browser) = Browser::open(Options::default()).await else { return };
    let (ready, code) = ready_order(&app, "S1", "ann", 3).await;
    pair(&app, &base, &browser, "S1").await;
    let before = app.level("S1", "A").await;
    // The scanner types the code and Enter wherever the page is (here: the list).
    browser.shown(&card(&ready)).await;
    browser.keys(&format!("{code}\u{e007}")).await;
    let lines = browser.text_of("#handover-order").await;
    assert!(lines.contains(number(&ready)) && lines.contains("Product A"), "{lines}");
    assert_eq!(status(&app, &ready).await, "ready_for_pickup", "a look-up changes nothing");
    let button = browser.text_of("#handover-confirm").await;
    assert!(button.contains('3'), "{button}");
    browser.click("#handover-confirm").await;
    browser
        .until("handed over", "return document.getElementById('handover-notice').innerText.includes('handed over')")
        .await;
    assert_eq!(status(&app, &ready).await, "collected");
    let after = app.level("S1", "A").await;
    assert_eq!(after["on_hand"].as_i64().unwrap(), before["on_hand"].as_i64().unwrap() - 3);
    assert_eq!(after["reserved"].as_i64().unwrap(), before["reserved"].as_i64().unwrap() - 3);
    app.assert_ledger_balances("S1", "A").await;
}

async fn a_handover_by_camera_reads_the_qr_pass(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let (ready, code) = ready_order(&app, "S1", "ann", 2).await;
    let video = std::env::temp_dir().join(format!("cc-qr-{}-{}.y4m", std::process::id(), number(&ready)));
    browser::qr_video(&code, &video);
    let options = Options { camera: Some(video.clone()), screen: Screen::Phone, ..Options::default() };
    let Some(browser) = Browser::open(options).await else { return };
    pair(&app, &base, &browser, "S1").await;
    browser.click("#tab-handover").await;
    browser.click("#camera-start").await;
    let lines = browser.text_of("#handover-order").await;
    assert!(lines.contains(number(&ready)), "{lines}");
    let typed = browser.eval("return document.getElementById('code-input').value").await;
    assert_eq!(typed, code.as_str(), "the code came from the QR pass");
    assert_eq!(browser.eval("return !!window.jsQR").await, true, "decoded by the vendored jsQR (no BarcodeDetector)");
    browser.click("#handover-confirm").await;
    browser
        .until("handed over", "return document.getElementById('handover-notice').innerText.includes('handed over')")
        .await;
    assert_eq!(status(&app, &ready).await, "collected");
    let _ = std::fs::remove_file(video);
}

async fn wrong_codes_other_stores_and_the_throttle_each_say_so(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let Some(browser) = Browser::open(Options::default()).await else { return };
    let (elsewhere, other_code) = ready_order(&app, "S2", "bob", 1).await;
    pair(&app, &base, &browser, "S1").await;
    browser.click("#tab-handover").await;

    // Typed by hand.
    browser.type_into("#code-input", "WRONG-CODE-1").await;
    browser.click("#code-form button[type=submit]").await;
    let message = browser.text_of("#handover-notice").await;
    assert!(message.contains("No order with this code at this store"), "{message}");

    browser.type_into("#code-input", &other_code).await;
    browser.click("#code-form button[type=submit]").await;
    browser
        .until("the other store", "return document.getElementById('handover-notice').innerText.includes('Kraków')")
        .await;
    let message = browser.text_of("#handover-notice").await;
    assert!(message.contains("Kraków Market (S2)") && message.contains("Send the customer there"), "{message}");
    assert_eq!(status(&app, &elsewhere).await, "ready_for_pickup");

    // Wrong codes from the counter's other devices fill the store's window; then this one is told to wait.
    let staff = app.staff("S1");
    for attempt in 0..12 {
        let scan = json!({"code": format!("NOPE{attempt}")});
        let reply = app.request(Method::POST, "/v1/stores/S1/pickups").bearer(&staff).json(&scan).send().await;
        if reply.status == 429 {
            break;
        }
    }
    browser.type_into("#code-input", "WRONG-CODE-2").await;
    browser.click("#code-form button[type=submit]").await;
    browser
        .until("throttled", "return document.getElementById('handover-notice').innerText.includes('Too many')")
        .await;
    let message = browser.text_of("#handover-notice").await;
    assert!(message.contains("Try again in"), "{message}");
}

async fn a_count_from_the_stock_screen(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let Some(browser) = Browser::open(Options { screen: Screen::Phone, ..Options::default() }).await else { return };
    order(&app, "S1", "ann", "pickup", json!([{"sku": "B", "quantity": 1}])).await;
    pair(&app, &base, &browser, "S1").await;
    browser.click("#tab-stock").await;
    browser.type_into("#sku-input", "B").await;
    browser.click("#sku-form button[type=submit]").await;
    assert_eq!(browser.text_of("#level-on-hand").await, "4");
    assert_eq!(browser.text_of("#level-reserved").await, "1");
    assert_eq!(browser.text_of("#level-available").await, "3");
    browser.type_into("#count-input", "7").await;
    browser.click("#count-form button[type=submit]").await;
    browser
        .until("the count", "return document.getElementById('stock-notice').innerText.includes('Count saved')")
        .await;
    assert_eq!(browser.text_of("#level-on-hand").await, "7");
    let level = app.level("S1", "B").await;
    assert_eq!(level["on_hand"], 7);
    let last = app.movements("S1", "B").await[0].clone();
    assert!(last["actor"].as_str().unwrap().starts_with("staff:device:"), "{last}");

    // A count over stock that changed meanwhile is refused, and says what it is now.
    app.count("S1", "B", 9).await;
    browser.type_into("#count-input", "6").await;
    browser.click("#count-form button[type=submit]").await;
    browser.until("the mismatch", "return document.getElementById('stock-notice').innerText.includes('now 9')").await;
    assert_eq!(app.level("S1", "B").await["on_hand"], 9);
}

async fn a_transfer_is_found_by_its_order_and_received_with_what_arrived(app: TestApp) {
    setup(&app).await;
    // S1 has none of B left; S2 supplies it in a working day.
    app.count("S1", "B", 0).await;
    app.count("S2", "B", 10).await;
    let lanes = json!({"lanes": [{"from": "S2", "working_days": 1}]});
    app.put("/v1/locations/S1/lanes", Some(&app.admin()), &lanes).await.ok();
    let placed = order(&app, "S1", "ann", "pickup", json!([{"sku": "B", "quantity": 6}])).await;
    assert_eq!(placed["status"], "awaiting_transfer");
    let transfer = placed["transfers"][0]["id"].as_str().unwrap().to_string();
    let base = app.serve();
    let Some(browser) = Browser::open(Options { screen: Screen::Phone, ..Options::default() }).await else { return };
    pair(&app, &base, &browser, "S1").await;
    browser.click("#tab-transfers").await;
    let item = format!("li.transfer[data-number='{}']", number(&placed));
    browser.shown(&item).await;
    // A scanner types the order number into the field and presses Enter: its transfer is ready.
    browser.type_into("#transfer-input", &format!("{}\n", number(&placed))).await;
    browser
        .until(
            "the transfer's button to take focus",
            &format!("return document.activeElement === document.querySelector(\"{item} button\")"),
        )
        .await;
    // One of the six did not come.
    browser.type_into(&format!("{item} input[data-sku='B']"), "5").await;
    browser.click(&format!("{item} button")).await;
    browser
        .until("the short receipt", "return document.getElementById('transfers-notice').innerText.includes('missing')")
        .await;
    browser.until("the list to empty", "return document.querySelectorAll('li.transfer').length === 0").await;
    let received = app.get("/v1/transfers?to=S1&status=partial", Some(&app.admin())).await.ok().clone();
    assert_eq!(received["items"][0]["id"], transfer.as_str());
    assert_eq!(received["items"][0]["lines"][0]["received"], 5);
    assert!(received["items"][0]["received_by"].as_str().unwrap().starts_with("staff:device:"));
    let now = app.get(&format!("/v1/orders/{}", id(&placed)), Some(&app.admin())).await.ok().clone();
    assert_eq!(now["status"], "confirmed");
    assert!(now["at_risk"].is_object(), "{now}");
    let level = app.level("S1", "B").await;
    assert_eq!((level["on_hand"].as_i64(), level["reserved"].as_i64()), (Some(5), Some(6)));
}

async fn arabic_is_right_to_left(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let options = Options { language: "ar", screen: Screen::Phone, ..Options::default() };
    let Some(browser) = Browser::open(options).await else { return };
    let placed = order(&app, "S1", "ann", "pickup", json!([{"sku": "A", "quantity": 1}])).await;
    pair(&app, &base, &browser, "S1").await;
    browser.shown(&card(&placed)).await;
    assert_eq!(browser.eval("return document.documentElement.dir").await, "rtl");
    assert_eq!(browser.eval("return document.documentElement.lang").await, "ar");
    assert_eq!(browser.eval("return getComputedStyle(document.body).direction").await, "rtl");
    let tab = browser.text_of("#tab-orders").await;
    assert!(tab.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)), "Arabic words: {tab}");
    // Laid out from the right: the first tab is right of the last.
    let order = browser
        .eval(
            "const a = document.getElementById('tab-orders').getBoundingClientRect(); \
             const b = document.getElementById('tab-stock').getBoundingClientRect(); return a.left > b.left",
        )
        .await;
    assert_eq!(order, true);
    if screenshots_wanted(&app) {
        browser.eval("document.getElementById('toast').hidden = true; return true").await;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/console/phone-arabic.png");
        browser.screenshot(&path).await;
    }
}

async fn one_stores_console_cannot_see_or_act_on_anothers(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let Some(browser) = Browser::open(Options::default()).await else { return };
    let theirs = order(&app, "S2", "bob", "pickup", json!([{"sku": "A", "quantity": 1}])).await;
    let ours = order(&app, "S1", "ann", "pickup", json!([{"sku": "A", "quantity": 1}])).await;
    pair(&app, &base, &browser, "S1").await;
    browser.shown(&card(&ours)).await;
    assert_eq!(browser.eval(&format!("return !!document.querySelector(\"{}\")", card(&theirs))).await, false);
    // Opening the other store's order by its address shows an error and no actions.
    browser.goto(&format!("{base}/console#order/{}", id(&theirs))).await;
    let message = browser.text_of("#order-notice").await;
    assert!(!message.is_empty(), "an error is shown");
    assert_eq!(browser.eval("return document.getElementById('order-title').innerText").await, "");
    // And the device's token is refused on every write to S2.
    let token = browser.eval("return JSON.parse(localStorage.getItem('clickcollect.console')).token").await;
    let token = token.as_str().unwrap();
    for path in [format!("/v1/orders/{}/picking", id(&theirs)), format!("/v1/orders/{}/cancel", id(&theirs))] {
        let reply = app.request(Method::POST, &path).bearer(token).send().await;
        assert!(reply.status == 403 || reply.status == 404, "{path}: {}", reply.status);
    }
    app.request(Method::POST, "/v1/stores/S2/pickups/lookup")
        .bearer(token)
        .json(&json!({"code": "ANYTHING"}))
        .send()
        .await
        .assert_problem(403, "forbidden");
    app.put("/v1/stock/S2/A", Some(token), &json!({"on_hand": 0})).await.assert_problem(403, "forbidden");
    app.request(Method::POST, "/v1/stores/S2/console-links")
        .bearer(token)
        .send()
        .await
        .assert_problem(403, "forbidden");
    assert_eq!(status(&app, &theirs).await, "confirmed");
    assert_eq!(app.level("S2", "A").await["on_hand"], 5);
}

on_both_backends!(
    pairing_signs_the_device_in_and_revoking_signs_it_out,
    a_new_order_appears_without_reload_with_a_cue,
    picking_then_ready_from_the_order_screen,
    an_order_at_risk_stands_out_and_ready_says_why_not,
    cancelling_keeps_the_reason,
    a_curbside_arrival_jumps_to_the_top,
    a_handover_by_keyboard_wedge_collects_and_takes_the_stock,
    a_handover_by_camera_reads_the_qr_pass,
    wrong_codes_other_stores_and_the_throttle_each_say_so,
    a_count_from_the_stock_screen,
    a_transfer_is_found_by_its_order_and_received_with_what_arrived,
    arabic_is_right_to_left,
    one_stores_console_cannot_see_or_act_on_anothers,
);

async fn polling_takes_over_where_streams_are_blocked(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let Some(browser) = Browser::open(Options::default()).await else { return };
    pair(&app, &base, &browser, "S1").await;
    browser.eval("const s = document.getElementById('updates'); s.value = 'polling'; s.dispatchEvent(new Event('change')); return true").await;
    browser.until("polling", "return document.getElementById('conn').dataset.state === 'polling'").await;
    assert!(browser.text_of("#conn").await.contains("10 s"));
    let placed = order(&app, "S1", "ann", "pickup", json!([{"sku": "A", "quantity": 1}])).await;
    browser.shown(&card(&placed)).await;
    assert_eq!(browser.eval("return document.getElementById('conn').dataset.state").await, "polling");
}

async fn an_offline_banner_while_the_server_is_gone(app: TestApp) {
    setup(&app).await;
    let port = common::free_port();
    let server = app.serve_process_on(port, &[]);
    let Some(browser) = Browser::open(Options::default()).await else { return };
    pair(&app, &server.base, &browser, "S1").await;
    assert!(browser.eval("return document.getElementById('offline').hidden").await.as_bool().unwrap());
    drop(server);
    browser.click("#refresh").await;
    let banner = browser.text_of("#offline").await;
    assert!(banner.contains("Offline"), "{banner}");
    assert_eq!(browser.eval("return document.getElementById('conn').dataset.state").await, "offline");

    // Back: the console reconnects by itself, and what happened meanwhile is listed.
    let placed = order(&app, "S1", "ann", "pickup", json!([{"sku": "A", "quantity": 1}])).await;
    let _server = app.serve_process_on(port, &[]);
    browser.shown(&card(&placed)).await;
    browser.until("the banner to go", "return document.getElementById('offline').hidden").await;
}

/// `UPDATE_CONSOLE_SCREENSHOTS=1 cargo test --test console` refreshes the pictures in
/// docs/console/ (from the SQLite run).
fn screenshots_wanted(app: &TestApp) -> bool {
    std::env::var("UPDATE_CONSOLE_SCREENSHOTS").is_ok_and(|v| v == "1") && app.backend == common::Backend::Sqlite
}

/// Every control a thumb can reach is at least 44 px each way and has a name a screen
/// reader can say; nothing scrolls sideways; the policy refused nothing.
const LAYOUT_PROBLEMS: &str = r#"
const problems = [];
for (const el of document.querySelectorAll('button, a[href], input, select, textarea')) {
  const box = el.getBoundingClientRect();
  if (box.width === 0 || el.closest('[hidden]') || el.classList.contains('skip')) continue;
  if (box.height < 44 || box.width < 44) problems.push('small: ' + (el.id || el.outerHTML.slice(0, 80)) + ' ' + box.width + 'x' + box.height);
  const label = el.labels && el.labels.length ? el.labels[0].innerText : '';
  const name = (el.getAttribute('aria-label') || label || el.innerText || el.value || '').trim();
  if (!name) problems.push('unnamed: ' + (el.id || el.outerHTML.slice(0, 80)));
}
if (document.documentElement.scrollWidth > window.innerWidth) problems.push('scrolls sideways: ' + document.documentElement.scrollWidth);
for (const v of window.consoleDiagnostics.cspViolations) problems.push('csp: ' + v);
return problems;
"#;

async fn phone_and_tablet_layouts_are_usable(app: TestApp) {
    setup(&app).await;
    let base = app.serve();
    let first =
        order(&app, "S1", "ann", "pickup", json!([{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}])).await;
    let curbside = order(&app, "S1", "bob", "curbside", json!([{"sku": "A", "quantity": 1}])).await;
    order(&app, "S1", "cy", "pickup", json!([{"sku": "B", "quantity": 2}])).await;
    let arrival = json!({"bay": "2", "vehicle": "grey van WE 4521"});
    app.post(&format!("/v1/orders/{}/arrival", id(&curbside)), Some(&app.customer("bob")), &arrival).await.ok();
    let (ready, code) = ready_order(&app, "S1", "dan", 1).await;
    let keep = screenshots_wanted(&app);
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/console");
    for screen in [Screen::Phone, Screen::Tablet] {
        let Some(browser) = Browser::open(Options { screen, ..Options::default() }).await else { return };
        let (width, _) = screen.size();
        pair(&app, &base, &browser, "S1").await;
        browser.shown(&card(&ready)).await;
        assert_eq!(browser.eval("return window.innerWidth").await, width);
        let shot = |name: &str| folder.join(format!("{}-{name}.png", if width < 500 { "phone" } else { "tablet" }));
        let problems = browser.eval(LAYOUT_PROBLEMS).await;
        assert_eq!(problems, json!([]), "the list at {width} px");
        if keep {
            browser.eval("document.getElementById('toast').hidden = true; return true").await;
            browser.screenshot(&shot("orders")).await;
        }
        browser.click(&card(&first)).await;
        browser.text_of("#order-title").await;
        assert_eq!(browser.eval(LAYOUT_PROBLEMS).await, json!([]), "an order at {width} px");
        if keep {
            browser.screenshot(&shot("order")).await;
        }
        browser.click("#tab-handover").await;
        browser.type_into("#code-input", &code).await;
        browser.click("#code-form button[type=submit]").await;
        browser.shown("#handover-confirm").await;
        assert_eq!(browser.eval(LAYOUT_PROBLEMS).await, json!([]), "a handover at {width} px");
        if keep {
            browser.screenshot(&shot("handover")).await;
        }
        browser.click("#tab-stock").await;
        browser.type_into("#sku-input", "A").await;
        browser.click("#sku-form button[type=submit]").await;
        browser.shown("#count-input").await;
        assert_eq!(browser.eval(LAYOUT_PROBLEMS).await, json!([]), "stock at {width} px");
        if keep {
            browser.screenshot(&shot("stock")).await;
        }
        // Everything is reachable from the keyboard: Tab walks from the skip link into the page.
        browser.click("#tab-orders").await;
        browser.shown(&card(&ready)).await;
        browser.keys("\u{e004}\u{e004}").await;
        let focused = browser.eval("return document.activeElement && document.activeElement.id").await;
        assert!(focused.is_string(), "Tab moves focus onto the page's controls");
    }
}

on_both_backends!(
    later with &[];
    polling_takes_over_where_streams_are_blocked,
    an_offline_banner_while_the_server_is_gone,
    phone_and_tablet_layouts_are_usable,
);
