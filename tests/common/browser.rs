//! A real browser for the console's tests: Debian's headless `chromium`, driven through
//! `chromedriver` (WebDriver) with fantoccini. Each test gets its own chromedriver and its own
//! fresh profile. Without chromium the tests skip, except in CI (`CI=true`), where they fail:
//! `.ci/run` installs it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// Browsers open at once in one test process: each takes a core's worth of CPU while it starts.
const MAX_BROWSERS: usize = 2;
static OPEN: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

/// A place in the browser queue, held for the test's life.
struct Turn;

impl Turn {
    fn take() -> Turn {
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        while *open >= MAX_BROWSERS {
            open = FREED.wait(open).unwrap_or_else(|e| e.into_inner());
        }
        *open += 1;
        Turn
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        *OPEN.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        FREED.notify_one();
    }
}

/// The screen a test runs at.
#[derive(Debug, Clone, Copy)]
pub enum Screen {
    /// 360×740: a phone.
    Phone,
    /// 1024×768: a tablet in landscape.
    Tablet,
}

impl Screen {
    pub fn size(self) -> (u32, u32) {
        match self {
            Screen::Phone => (360, 740),
            Screen::Tablet => (1024, 768),
        }
    }
}

/// How to start the browser.
pub struct Options {
    pub screen: Screen,
    /// The browser's language (`navigator.languages`).
    pub language: &'static str,
    /// A Y4M video the fake camera plays.
    pub camera: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options { screen: Screen::Tablet, language: "en-US", camera: None }
    }
}

/// A headless chromium under its own chromedriver; both end when it is dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    /// Where chromedriver listens, and the session to end there.
    driver_url: String,
    session: Option<String>,
    profile: PathBuf,
    _turn: Turn,
}

fn found(program: &str) -> Option<PathBuf> {
    let candidates = [format!("/usr/bin/{program}"), format!("/usr/local/bin/{program}")];
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

impl Browser {
    /// A browser, or `None` (outside CI) when chromium or chromedriver is not installed.
    pub async fn open(options: Options) -> Option<Browser> {
        let (Some(driver_path), Some(chromium)) = (found("chromedriver"), found("chromium")) else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("chromium and chromedriver are required in CI: apt-get install chromium chromium-driver");
            }
            eprintln!("skipping: chromium or chromedriver is not installed (apt-get install chromium chromium-driver)");
            return None;
        };
        let turn = tokio::task::spawn_blocking(Turn::take).await.expect("a turn");
        let port = crate::common::free_port();
        // Its own process group: chromium's processes go with it when the test ends.
        use std::os::unix::process::CommandExt;
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = std::env::temp_dir().join(format!("cc-chromium-{}", uuid::Uuid::new_v4()));
        let (width, height) = options.screen.size();
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--autoplay-policy=no-user-gesture-required".into(),
            format!("--window-size={width},{height}"),
            format!("--lang={}", options.language),
            format!("--user-data-dir={}", profile.display()),
        ];
        if let Some(video) = &options.camera {
            args.push("--use-fake-ui-for-media-stream".into());
            args.push("--use-fake-device-for-media-stream".into());
            args.push(format!("--use-file-for-fake-video-capture={}", video.display()));
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": args,
                "prefs": {"intl.accept_languages": options.language},
                // The page gets exactly the screen's size, with touch, as on the device.
                "mobileEmulation": {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": true}},
            }
        });
        let capabilities = match capabilities {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => break client,
                Err(_) if started.elapsed() < Duration::from_secs(20) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("no WebDriver session at {url}: {error}"),
            }
        };
        let session = client.session_id().await.ok().flatten();
        Some(Browser { client, driver, driver_url: url, session, profile, _turn: turn })
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits up to 15 s for `script` to return something truthy, and returns it.
    pub async fn until(&self, what: &str, script: &str) -> Value {
        let started = Instant::now();
        loop {
            let value = self.client.execute(script, vec![]).await.unwrap_or(Value::Null);
            let truthy = match &value {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return value;
            }
            if started.elapsed() > Duration::from_secs(15) {
                let page = self.eval("return document.body.innerText").await;
                panic!("waited 15 s for {what}; the page says:\n{}", page.as_str().unwrap_or(""));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visible text of the element `css`, once it is shown.
    pub async fn text_of(&self, css: &str) -> String {
        let script = format!(
            "const e = document.querySelector({css:?}); return e && e.getClientRects().length > 0 ? e.innerText : null"
        );
        self.until(&format!("{css} to show"), &script).await.as_str().unwrap_or("").to_string()
    }

    /// Waits until `css` is shown and returns it.
    pub async fn shown(&self, css: &str) -> Element {
        let script = format!("const e = document.querySelector({css:?}); return !!e && e.getClientRects().length > 0");
        self.until(&format!("{css} to show"), &script).await;
        self.client.find(Locator::Css(css)).await.expect("the element")
    }

    pub async fn click(&self, css: &str) {
        self.shown(css).await.click().await.unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
    }

    /// Types into the field `css` (after clearing it).
    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.shown(css).await;
        field.clear().await.expect("the field clears");
        field.send_keys(text).await.expect("the field takes keys");
    }

    /// Keys as a keyboard (or a keyboard-wedge scanner) sends them to whatever has focus.
    pub async fn keys(&self, text: &str) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut actions = KeyActions::new("wedge".into());
        for c in text.chars() {
            actions = actions.then(KeyAction::Down { value: c }).then(KeyAction::Up { value: c });
        }
        self.client.perform_actions(actions).await.expect("the keys are sent");
    }

    pub async fn screenshot(&self, path: &Path) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(path, png).expect("the screenshot is written");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session closes chromium; whatever is left of the group goes after it.
        if let Some(session) = &self.session {
            let agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(5))).build().new_agent();
            let _ = agent.delete(format!("{}/session/{session}", self.driver_url)).call();
        }
        let group = self.driver.id() as i32;
        // SAFETY: kill(2) with a negative pid signals the process group chromedriver leads.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A Y4M video (what Chromium's fake camera plays) of `code` as a QR code, black on white
/// in the middle of a 640×480 frame, for a few frames (Chromium loops it).
pub fn qr_video(code: &str, path: &Path) {
    let qr = qrcode::QrCode::new(code.as_bytes()).expect("a QR code");
    let modules = qr.width();
    let colors = qr.to_colors();
    let (width, height) = (640usize, 480usize);
    let scale = 320 / (modules + 8);
    let side = (modules + 8) * scale;
    let (left, top) = ((width - side) / 2, (height - side) / 2);
    let mut luma = vec![255u8; width * height];
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = ((x / scale) as isize - 4, (y / scale) as isize - 4);
            let dark = mx >= 0
                && my >= 0
                && (mx as usize) < modules
                && (my as usize) < modules
                && colors[my as usize * modules + mx as usize] == qrcode::Color::Dark;
            if dark {
                luma[(top + y) * width + left + x] = 0;
            }
        }
    }
    let mut video = format!("YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n").into_bytes();
    let chroma = vec![128u8; (width / 2) * (height / 2) * 2];
    for _ in 0..5 {
        video.extend_from_slice(b"FRAME\n");
        video.extend_from_slice(&luma);
        video.extend_from_slice(&chroma);
    }
    std::fs::write(path, video).expect("the video is written");
}
