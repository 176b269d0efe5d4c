//! SMS text: one segment, always. Counts GSM-7 septets and UCS-2 units the way the networks
//! do (3GPP TS 23.038), folds Latin diacritics the GSM alphabet lacks so Polish and Spanish stay
//! in the 160-septet alphabet, and shortens the store name (never the code, the order or the
//! tracking number) until the message fits. The email carries the details.

use super::locale::Lang;
use crate::orders::events::Event;

/// GSM 03.38 default alphabet (one septet each); `\u{1b}` (escape) is not text.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table: two septets each (escape + character).
const GSM_EXTENSION: &str = "^{}\\[~]|€\u{c}";

const GSM_SINGLE: usize = 160;
const GSM_MULTI: usize = 153;
const UCS2_SINGLE: usize = 70;
const UCS2_MULTI: usize = 67;

/// Septets the text takes in the GSM-7 alphabet, or `None` when it needs UCS-2.
pub fn gsm_septets(text: &str) -> Option<usize> {
    text.chars().try_fold(0, |n, c| {
        if GSM_BASIC.contains(c) {
            Some(n + 1)
        } else if GSM_EXTENSION.contains(c) {
            Some(n + 2)
        } else {
            None
        }
    })
}

/// How many SMS segments the text needs.
pub fn segments(text: &str) -> usize {
    match gsm_septets(text) {
        Some(n) if n <= GSM_SINGLE => 1,
        Some(n) => n.div_ceil(GSM_MULTI),
        None => {
            let units: usize = text.chars().map(char::len_utf16).sum();
            if units <= UCS2_SINGLE {
                1
            } else {
                units.div_ceil(UCS2_MULTI)
            }
        }
    }
}

/// Replaces Latin letters the GSM alphabet lacks with their base letter (ł → l, á → a, ș → s,
/// ő → o, ß → ss), and typographic punctuation with plain, so a message in a Latin-script
/// language, or naming a Czech, Hungarian or Romanian store, keeps 160 characters instead of
/// falling to 70. Letters the GSM alphabet has (ä, ö, ü, ñ, é, è, ø, å…) are kept.
pub fn fold_to_gsm(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars() {
        let base = match c {
            'ß' => {
                folded.push_str("ss");
                continue;
            }
            'á' | 'â' | 'ã' | 'ą' | 'ā' | 'ă' => 'a',
            'Á' | 'À' | 'Â' | 'Ã' | 'Ą' | 'Ā' | 'Ă' => 'A',
            'ć' | 'č' | 'ç' => 'c',
            'Ć' | 'Č' => 'C',
            'ď' | 'đ' => 'd',
            'Ď' | 'Đ' => 'D',
            'ę' | 'ê' | 'ë' | 'ě' | 'ē' => 'e',
            'Ę' | 'È' | 'Ê' | 'Ë' | 'Ě' | 'Ē' => 'E',
            'ğ' => 'g',
            'Ğ' => 'G',
            'í' | 'î' | 'ï' | 'ī' | 'ı' => 'i',
            'Í' | 'Ì' | 'Î' | 'Ï' | 'Ī' | 'İ' => 'I',
            'ł' | 'ľ' | 'ĺ' => 'l',
            'Ł' | 'Ľ' | 'Ĺ' => 'L',
            'ń' | 'ň' => 'n',
            'Ń' | 'Ň' => 'N',
            'ó' | 'ô' | 'õ' | 'ō' | 'ő' => 'o',
            'Ó' | 'Ò' | 'Ô' | 'Õ' | 'Ō' | 'Ő' => 'O',
            'ř' | 'ŕ' => 'r',
            'Ř' | 'Ŕ' => 'R',
            'ś' | 'š' | 'ș' | 'ş' => 's',
            'Ś' | 'Š' | 'Ș' | 'Ş' => 'S',
            'ť' | 'ț' | 'ţ' => 't',
            'Ť' | 'Ț' | 'Ţ' => 'T',
            'ú' | 'û' | 'ů' | 'ū' | 'ű' => 'u',
            'Ú' | 'Ù' | 'Û' | 'Ů' | 'Ū' | 'Ű' => 'U',
            'ý' | 'ÿ' => 'y',
            'Ý' => 'Y',
            'ź' | 'ż' | 'ž' => 'z',
            'Ź' | 'Ż' | 'Ž' => 'Z',
            '–' | '—' => '-',
            '‘' | '’' => '\'',
            '“' | '”' | '„' => '"',
            '…' => '.',
            other => other,
        };
        folded.push(base);
    }
    folded
}

/// What an SMS may mention.
#[derive(Debug, Clone, Default)]
pub struct SmsData {
    /// A short form of the order id.
    pub order: String,
    pub store: String,
    pub code: Option<String>,
    /// The pickup deadline, already in the customer's time zone and the language's format.
    pub deadline: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    /// The pickup pass page, for a ready order, when the deployment has a public address.
    pub link: Option<String>,
    /// When the order's transfer is expected at the store.
    pub arrives: Option<String>,
    /// The product back in stock, or held.
    pub product: Option<String>,
    /// When a hold ends.
    pub until: Option<String>,
}

/// The SMS templates per language and event, in order of preference: later ones leave out
/// what can be left out (the carrier, the store).
fn templates(lang: Lang, event: Event) -> &'static [&'static str] {
    use Event::*;
    use Lang::*;
    match (lang, event) {
        (En, OrderConfirmed) => &[
            "Order {order} confirmed. We'll text you when it's ready at {store}.",
            "Order {order} confirmed. We'll text you when it's ready.",
        ],
        (En, OnItsWay) => &[
            "Order {order} confirmed. It is on its way to {store}, expected {arrives}. We'll text you when it's ready.",
            "Order {order} confirmed, on its way to {store}. We'll text you when it's ready.",
            "Order {order} confirmed, on its way to your store.",
        ],
        (En, BackInStock) => {
            &["{product} is back at {store}. {link}", "{product} is back at {store}.", "{product} is back in stock."]
        }
        (En, HoldReminder) => &[
            "Your hold at {store} ends at {until}. Order before then.",
            "Your hold ends at {until}. Order before then.",
        ],
        (En, ReadyForPickup) => &[
            "Order {order} is ready at {store}. Code {code}. Collect by {deadline}. {link}",
            "Order {order} is ready. Code {code}. Collect by {deadline}. {link}",
            "Order {order} is ready at {store}. Code {code}. Collect by {deadline}.",
            "Order {order} is ready. Code {code}. Collect by {deadline}.",
        ],
        (En, PickupReminder) => &[
            "Reminder: order {order} waits at {store} until {deadline}. Code {code}.",
            "Reminder: order {order} waits until {deadline}. Code {code}.",
        ],
        (En, Collected) => &["Order {order} collected at {store}. Thank you!", "Order {order} collected. Thank you!"],
        (En, Shipped) => &[
            "Order {order} shipped with {carrier}, tracking {tracking}.",
            "Order {order} shipped, tracking {tracking}.",
        ],
        (En, Delivered) => {
            &["Order {order} delivered. Thank you for shopping with {store}!", "Order {order} delivered. Thank you!"]
        }
        (En, Cancelled) => &["Order {order} was cancelled. Details are in your email."],
        (En, Expired) => &["Order {order} was not collected in time and has been cancelled."],
        (En, Returned) => &["Return for order {order} received. The refund goes back the way you paid."],

        (Pl, OrderConfirmed) => &[
            "Zamówienie {order} przyjęte. Napiszemy, gdy będzie gotowe w {store}.",
            "Zamówienie {order} przyjęte. Napiszemy, gdy będzie gotowe.",
        ],
        (Pl, OnItsWay) => &[
            "Zamówienie {order} przyjęte. Jedzie do {store}, dotrze {arrives}. Napiszemy, gdy będzie gotowe.",
            "Zamówienie {order} przyjęte, jedzie do {store}. Napiszemy, gdy będzie gotowe.",
            "Zamówienie {order} przyjęte, jedzie do Twojego sklepu.",
        ],
        (Pl, BackInStock) => {
            &["{product} znów w {store}. {link}", "{product} znów w {store}.", "{product} znów dostępny."]
        }
        (Pl, HoldReminder) => &[
            "Rezerwacja w {store} kończy się o {until}. Zamów wcześniej.",
            "Rezerwacja kończy się o {until}. Zamów wcześniej.",
        ],
        (Pl, ReadyForPickup) => &[
            "Zamówienie {order} czeka w {store}. Kod {code}. Odbiór do {deadline}. {link}",
            "Zamówienie {order} czeka. Kod {code}. Odbiór do {deadline}. {link}",
            "Zamówienie {order} czeka w {store}. Kod {code}. Odbiór do {deadline}.",
            "Zamówienie {order} czeka. Kod {code}. Odbiór do {deadline}.",
        ],
        (Pl, PickupReminder) => &[
            "Przypomnienie: zamówienie {order} czeka w {store} do {deadline}. Kod {code}.",
            "Przypomnienie: zamówienie {order} czeka do {deadline}. Kod {code}.",
        ],
        (Pl, Collected) => {
            &["Zamówienie {order} odebrane w {store}. Dziękujemy!", "Zamówienie {order} odebrane. Dziękujemy!"]
        }
        (Pl, Shipped) => &[
            "Zamówienie {order} wysłane: {carrier}, nr przesyłki {tracking}.",
            "Zamówienie {order} wysłane, nr przesyłki {tracking}.",
        ],
        (Pl, Delivered) => &["Zamówienie {order} dostarczone. Dziękujemy!"],
        (Pl, Cancelled) => &["Zamówienie {order} anulowane. Szczegóły w e-mailu."],
        (Pl, Expired) => &["Zamówienie {order} nie zostało odebrane w terminie i zostało anulowane."],
        (Pl, Returned) => &["Zwrot z zamówienia {order} przyjęty. Pieniądze wrócą tą samą drogą płatności."],

        (Es, OrderConfirmed) => &[
            "Pedido {order} confirmado. Te avisaremos cuando esté listo en {store}.",
            "Pedido {order} confirmado. Te avisaremos cuando esté listo.",
        ],
        (Es, OnItsWay) => &[
            "Pedido {order} confirmado. Va de camino a {store}, llega {arrives}. Te avisaremos cuando esté listo.",
            "Pedido {order} confirmado, va de camino a {store}. Te avisaremos cuando esté listo.",
            "Pedido {order} confirmado, va de camino a tu tienda.",
        ],
        (Es, BackInStock) => &[
            "{product} vuelve a {store}. {link}",
            "{product} vuelve a {store}.",
            "{product} vuelve a estar disponible.",
        ],
        (Es, HoldReminder) => &[
            "Tu reserva en {store} termina a las {until}. Pide antes.",
            "Tu reserva termina a las {until}. Pide antes.",
        ],
        (Es, ReadyForPickup) => &[
            "Pedido {order} listo en {store}. Código {code}. Recógelo antes de {deadline}. {link}",
            "Pedido {order} listo. Código {code}. Recógelo antes de {deadline}. {link}",
            "Pedido {order} listo en {store}. Código {code}. Recógelo antes de {deadline}.",
            "Pedido {order} listo. Código {code}. Recógelo antes de {deadline}.",
        ],
        (Es, PickupReminder) => &[
            "Recordatorio: el pedido {order} te espera en {store} hasta {deadline}. Código {code}.",
            "Recordatorio: el pedido {order} te espera hasta {deadline}. Código {code}.",
        ],
        (Es, Collected) => &["Pedido {order} recogido en {store}. ¡Gracias!", "Pedido {order} recogido. ¡Gracias!"],
        (Es, Shipped) => &[
            "Pedido {order} enviado con {carrier}, seguimiento {tracking}.",
            "Pedido {order} enviado, seguimiento {tracking}.",
        ],
        (Es, Delivered) => &["Pedido {order} entregado. ¡Gracias!"],
        (Es, Cancelled) => &["Pedido {order} cancelado. Tienes los detalles en tu correo."],
        (Es, Expired) => &["Pedido {order} no recogido a tiempo; ha sido cancelado."],
        (Es, Returned) => &["Devolución del pedido {order} recibida. El reembolso irá a tu medio de pago."],

        (Ru, OrderConfirmed) => &["Заказ {order} принят. Сообщим, когда он будет готов."],
        (Ru, OnItsWay) => &[
            "Заказ {order} принят, едет в {store}, будет {arrives}.",
            "Заказ {order} принят, едет в {store}.",
            "Заказ {order} принят, едет в ваш магазин.",
        ],
        (Ru, BackInStock) => {
            &["{product} снова в {store}. {link}", "{product} снова в {store}.", "{product} снова в наличии."]
        }
        (Ru, HoldReminder) => &["Бронь в {store} до {until}. Оформите заказ.", "Бронь до {until}. Оформите заказ."],
        (Ru, ReadyForPickup) => &[
            "Заказ {order} готов: {store}. Код {code}, до {deadline}",
            "Заказ {order} готов. Код {code}, до {deadline}",
        ],
        (Ru, PickupReminder) => &["Заказ {order} ждёт вас до {deadline}. Код {code}"],
        (Ru, Collected) => &["Заказ {order} получен. Спасибо!"],
        (Ru, Shipped) => {
            &["Заказ {order} отправлен, {carrier}, трек {tracking}", "Заказ {order} отправлен, трек {tracking}"]
        }
        (Ru, Delivered) => &["Заказ {order} доставлен. Спасибо!"],
        (Ru, Cancelled) => &["Заказ {order} отменён. Подробности в письме."],
        (Ru, Expired) => &["Заказ {order} не получен вовремя и отменён."],
        (Ru, Returned) => &["Возврат по заказу {order} принят, деньги вернём."],

        (Ar, OrderConfirmed) => &["تم تأكيد الطلب {order}. سنخبرك عندما يصبح جاهزًا."],
        (Ar, OnItsWay) => &[
            "تم تأكيد الطلب {order}، في الطريق إلى {store}، يصل {arrives}.",
            "تم تأكيد الطلب {order}، في الطريق إلى {store}.",
            "تم تأكيد الطلب {order}، في الطريق إلى متجرك.",
        ],
        (Ar, BackInStock) => {
            &["{product} متوفر في {store}. {link}", "{product} متوفر في {store}.", "{product} متوفر من جديد."]
        }
        (Ar, HoldReminder) => &["حجزك في {store} ينتهي {until}. اطلب قبلها.", "حجزك ينتهي {until}. اطلب قبلها."],
        (Ar, ReadyForPickup) => &[
            "الطلب {order} جاهز: {store}. الرمز {code} حتى {deadline}",
            "الطلب {order} جاهز. الرمز {code} حتى {deadline}",
        ],
        (Ar, PickupReminder) => &["الطلب {order} بانتظارك حتى {deadline}. الرمز {code}"],
        (Ar, Collected) => &["تم استلام الطلب {order}. شكرًا لك!"],
        (Ar, Shipped) => {
            &["تم شحن الطلب {order}، {carrier}، التتبع {tracking}", "تم شحن الطلب {order}، التتبع {tracking}"]
        }
        (Ar, Delivered) => &["تم توصيل الطلب {order}. شكرًا لك!"],
        (Ar, Cancelled) => &["تم إلغاء الطلب {order}. التفاصيل في بريدك."],
        (Ar, Expired) => &["لم يُستلم الطلب {order} في موعده وأُلغي."],
        (Ar, Returned) => &["تم استلام مرتجع الطلب {order} وسيُرد المبلغ."],
    }
}

fn fill(template: &str, data: &SmsData, store: &str) -> String {
    template
        .replace("{order}", &data.order)
        .replace("{store}", store)
        .replace("{code}", data.code.as_deref().unwrap_or(""))
        .replace("{deadline}", data.deadline.as_deref().unwrap_or(""))
        .replace("{carrier}", data.carrier.as_deref().unwrap_or(""))
        .replace("{tracking}", data.tracking.as_deref().unwrap_or(""))
        .replace("{link}", data.link.as_deref().unwrap_or(""))
        .replace("{arrives}", data.arrives.as_deref().unwrap_or(""))
        .replace("{until}", data.until.as_deref().unwrap_or(""))
        .replace("{product}", data.product.as_deref().unwrap_or(""))
}

/// Shortest a store name is cut to before a template without it is tried.
const MIN_STORE_CHARS: usize = 6;

/// Ever shorter forms of a store name, cut at word boundaries ("Galeria Handlowa Złote
/// Tarasy — Warszawa" → "Galeria Handlowa Złote Tarasy" → …), without trailing punctuation.
fn shortened(store: &str) -> Vec<String> {
    let words: Vec<&str> = store.split_whitespace().collect();
    (1..words.len())
        .rev()
        .map(|n| words[..n].join(" ").trim_end_matches([',', '.', ';', ':', '-', '–', '—', ' ']).to_string())
        .filter(|s| s.chars().count() >= MIN_STORE_CHARS)
        .collect()
}

/// The parts a message can do without, cut in this order when no template fits whole: the
/// tracking number, then the carrier, then the store name. Each keeps its start and ends in
/// "…"; the email carries them whole. The order number, the pickup code and the deadline are
/// never cut.
const CUT_ORDER: [Part; 4] = [Part::Tracking, Part::Carrier, Part::Store, Part::Product];

#[derive(Debug, Clone, Copy)]
enum Part {
    Tracking,
    Carrier,
    Store,
    Product,
}

impl Part {
    fn value(self, data: &SmsData) -> Option<&str> {
        match self {
            Part::Tracking => data.tracking.as_deref(),
            Part::Carrier => data.carrier.as_deref(),
            Part::Store => Some(data.store.as_str()),
            Part::Product => data.product.as_deref(),
        }
    }

    fn set(self, data: &mut SmsData, value: String) {
        match self {
            Part::Tracking => data.tracking = Some(value),
            Part::Carrier => data.carrier = Some(value),
            Part::Store => data.store = value,
            Part::Product => data.product = Some(value),
        }
    }
}

/// `text` cut to its first `n` characters, with "…" when anything was cut.
fn cut(text: &str, n: usize) -> String {
    let total = text.chars().count();
    if n >= total {
        return text.to_string();
    }
    let kept: String = text.chars().take(n).collect();
    format!("{}…", kept.trim_end())
}

/// The longest `n` in `0..=max` for which `fits(n)`, given that fitting only gets harder as
/// `n` grows (a longer prefix never takes fewer septets or units).
fn longest(max: usize, fits: impl Fn(usize) -> bool) -> Option<usize> {
    if !fits(0) {
        return None;
    }
    let (mut lo, mut hi) = (0, max);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
}

/// The SMS for an event, in one segment, always: the first template that fits, with the store
/// name shortened at word boundaries if that is what it takes; failing that, the last
/// template with its variable parts cut in `CUT_ORDER`; failing even that, the text itself
/// cut. Latin-script languages are folded into GSM-7.
pub fn render(lang: Lang, event: Event, data: &SmsData) -> String {
    let finish = |text: String| if lang.is_latin() { fold_to_gsm(&text) } else { text };
    let fits = |text: &str| segments(text) == 1;
    let options = templates(lang, event);
    for template in options {
        if (template.contains("{carrier}") && data.carrier.is_none())
            || (template.contains("{link}") && data.link.is_none())
            || (template.contains("{arrives}") && data.arrives.is_none())
            || (template.contains("{until}") && data.until.is_none())
        {
            continue;
        }
        let full = finish(fill(template, data, &data.store));
        if fits(&full) {
            return full;
        }
        if template.contains("{store}") {
            for short in shortened(&data.store) {
                let text = finish(fill(template, data, &short));
                if fits(&text) {
                    return text;
                }
            }
        }
    }
    // The last template leaves out everything that can be left out; what it keeps is cut.
    let last = options[options.len() - 1];
    let mut data = data.clone();
    for part in CUT_ORDER {
        let Some(value) = part.value(&data).map(String::from) else { continue };
        if !last.contains(match part {
            Part::Tracking => "{tracking}",
            Part::Carrier => "{carrier}",
            Part::Store => "{store}",
            Part::Product => "{product}",
        }) {
            continue;
        }
        let with = |n: usize| {
            let mut trial = data.clone();
            part.set(&mut trial, cut(&value, n));
            finish(fill(last, &trial, &trial.store))
        };
        match longest(value.chars().count(), |n| fits(&with(n))) {
            Some(n) => return with(n),
            None => part.set(&mut data, cut(&value, 0)),
        }
    }
    let text = finish(fill(last, &data, &data.store));
    let chars = text.chars().count();
    let n = longest(chars, |n| fits(&cut(&text, n))).unwrap_or(0);
    cut(&text, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENTS: &[Event] = <Event as strum::VariantArray>::VARIANTS;

    #[test]
    fn central_european_store_names_stay_in_the_gsm_alphabet() {
        let names = "Dvůr Králové, Târgu Mureș, Győr, Łódź, Straße, Košice, İzmir, Đakovo";
        let folded = fold_to_gsm(names);
        assert_eq!(folded, "Dvur Kralové, Targu Mures, Gyor, Lodz, Strasse, Kosice, Izmir, Dakovo");
        assert!(gsm_septets(&folded).is_some());
        assert_eq!(fold_to_gsm("Müller, Ñandú, Øresund"), "Müller, Ñandu, Øresund", "GSM letters are kept");
    }

    #[test]
    fn segments_follow_the_gsm_and_ucs2_limits() {
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"a".repeat(306)), 2);
        assert_eq!(segments(&"a".repeat(307)), 3);
        assert_eq!(segments(&"€".repeat(80)), 1, "extension characters take two septets");
        assert_eq!(segments(&"€".repeat(81)), 2);
        assert_eq!(segments(&"ж".repeat(70)), 1);
        assert_eq!(segments(&"ж".repeat(71)), 2);
        assert_eq!(segments(&format!("{}ł", "a".repeat(69))), 1, "one Polish letter makes it UCS-2");
        assert_eq!(segments(&format!("{}ł", "a".repeat(70))), 2);
        assert_eq!(segments("😀".repeat(35).as_str()), 1, "emoji are two UTF-16 units");
        assert_eq!(segments("😀".repeat(36).as_str()), 2);
    }

    #[test]
    fn polish_and_spanish_fold_into_gsm() {
        assert_eq!(fold_to_gsm("Zażółć gęślą jaźń"), "Zazolc gesla jazn");
        assert!(gsm_septets(&fold_to_gsm("Código: recógelo — ¡gracias!")).is_some());
        assert!(gsm_septets("ñ¿¡é").is_some(), "Spanish letters the alphabet has are kept");
    }

    /// Every SMS template in every language, with the longest data a store could plausibly
    /// produce, is one segment and keeps the code, the order and the tracking number whole.
    #[test]
    fn every_sms_fits_in_one_segment_with_the_longest_plausible_data() {
        let data = SmsData {
            order: "01A2B3C4".into(),
            store: "Galeria Handlowa Złote Tarasy — Warszawa Śródmieście, poziom -1, wejście od ul. Złotej".into(),
            code: Some("ABCDEFGHJK".into()),
            deadline: Some("Wed 25 Nov 21:30".into()),
            carrier: Some("DHL Parcel Polska Express".into()),
            tracking: Some("JJD000390007770912345678".into()),
            link: Some("https://shop.example.com/pass/01A2B3C4-0123456789ABCDEF".into()),
            arrives: Some("Wed 25 Nov 09:00".into()),
            product: Some("Kawa ziarnista Etiopia Yirgacheffe 1 kg, palona jasno".into()),
            until: Some("Wed 25 Nov 21:30".into()),
        };
        for lang in [Lang::En, Lang::Pl, Lang::Ru, Lang::Ar, Lang::Es] {
            for &event in EVENTS {
                let text = render(lang, event, &data);
                assert_eq!(segments(&text), 1, "{lang:?} {event:?}: {text} ({} chars)", text.chars().count());
                if matches!(event, Event::BackInStock | Event::HoldReminder) {
                    // Not about an order: the product back in stock, or when the hold ends.
                    let key = if event == Event::HoldReminder { "21:30" } else { "Kawa" };
                    assert!(text.contains(key), "{lang:?} {event:?}: {text}");
                } else {
                    assert!(text.contains("01A2B3C4"), "{lang:?} {event:?}: {text}");
                }
                if matches!(event, Event::ReadyForPickup | Event::PickupReminder) {
                    assert!(text.contains("ABCDEFGHJK") && text.contains("21:30"), "{lang:?} {event:?}: {text}");
                }
                if event == Event::Shipped {
                    assert!(text.contains("JJD000390007770912345678"), "{lang:?}: {text}");
                }
                if lang.is_latin() {
                    assert!(gsm_septets(&text).is_some(), "{lang:?} {event:?} stays in GSM-7: {text}");
                }
            }
        }
    }

    /// A ready SMS in a Latin-script language carries the pass link whole when it fits (the
    /// store name goes first); Cyrillic and Arabic (70 UCS-2 units) have no room, and go
    /// without it.
    #[test]
    fn the_ready_sms_carries_the_pass_link_when_it_fits() {
        let link = "https://shop.example.com/pass/01A2B3C4-0123456789ABCDEF".to_string();
        let data = SmsData {
            order: "01A2B3C4".into(),
            store: "Galeria Handlowa Złote Tarasy".into(),
            code: Some("ABCDEFGHJK".into()),
            deadline: Some("Wed 25 Nov 21:30".into()),
            link: Some(link.clone()),
            ..SmsData::default()
        };
        for lang in [Lang::En, Lang::Pl, Lang::Es] {
            let text = render(lang, Event::ReadyForPickup, &data);
            assert!(text.contains(&link) && text.contains("ABCDEFGHJK"), "{lang:?}: {text}");
            assert_eq!(segments(&text), 1);
        }
        for lang in [Lang::Ru, Lang::Ar] {
            let text = render(lang, Event::ReadyForPickup, &data);
            assert!(!text.contains("https://") && text.contains("ABCDEFGHJK"), "{lang:?}: {text}");
        }
        let without = render(Lang::En, Event::ReadyForPickup, &SmsData { link: None, ..data });
        assert!(!without.contains("{link}") && !without.contains("https://"), "{without}");
    }

    /// The longest values the API accepts: a 200-character store name, and a carrier and a
    /// tracking number of 100 characters each, in an alphabet that forces UCS-2. Every message
    /// is still one segment and keeps what the customer needs at the counter.
    #[test]
    fn every_sms_fits_in_one_segment_with_the_longest_values_the_api_accepts() {
        let cyrillic = |n: usize| "Ж".repeat(n);
        let variants = [
            SmsData {
                order: "01A2B3C4".into(),
                store: "Галерея ".repeat(25).trim_end().to_string(),
                code: Some("ABCDEFGHJK".into()),
                deadline: Some("Wed 25 Nov 21:30".into()),
                carrier: Some(cyrillic(100)),
                tracking: Some(cyrillic(100)),
                link: Some("https://shop.example.com/pass/01A2B3C4-0123456789ABCDEF".into()),
                arrives: Some("25.11 09:00".into()),
                product: Some("P".repeat(200)),
                until: Some("25.11 21:30".into()),
            },
            SmsData {
                order: "01A2B3C4".into(),
                store: "S".repeat(200),
                code: Some("ABCDEFGHJK".into()),
                deadline: Some("25.11 21:30".into()),
                carrier: Some("C".repeat(100)),
                tracking: Some("T".repeat(100)),
                link: Some("https://shop.example.com/pass/01A2B3C4-0123456789ABCDEF".into()),
                arrives: Some("25.11 09:00".into()),
                product: Some("P".repeat(200)),
                until: Some("25.11 21:30".into()),
            },
        ];
        for data in &variants {
            for lang in [Lang::En, Lang::Pl, Lang::Ru, Lang::Ar, Lang::Es] {
                for &event in EVENTS {
                    let text = render(lang, event, data);
                    assert_eq!(segments(&text), 1, "{lang:?} {event:?}: {text} ({} chars)", text.chars().count());
                    // Messages not about an order name none.
                    let about_an_order = !matches!(event, Event::BackInStock | Event::HoldReminder);
                    assert!(!about_an_order || text.contains("01A2B3C4"), "{lang:?} {event:?}: {text}");
                    if matches!(event, Event::ReadyForPickup | Event::PickupReminder) {
                        assert!(text.contains("ABCDEFGHJK"), "{lang:?} {event:?}: {text}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_cut_tracking_number_keeps_its_start() {
        let data = SmsData {
            order: "01A2B3C4".into(),
            carrier: Some("DHL".into()),
            tracking: Some(format!("JJD{}", "Ж".repeat(97))),
            ..Default::default()
        };
        let text = render(Lang::En, Event::Shipped, &data);
        assert_eq!(segments(&text), 1);
        assert!(text.contains("tracking JJD") && !text.contains(&"Ж".repeat(97)), "{text}");
    }

    #[test]
    fn a_short_store_name_is_kept_whole() {
        let data = SmsData {
            order: "01A2B3C4".into(),
            store: "Kraków Rynek".into(),
            code: Some("ABCDEFGHJK".into()),
            deadline: Some("25.11 21:00".into()),
            ..Default::default()
        };
        assert_eq!(
            render(Lang::Pl, Event::ReadyForPickup, &data),
            "Zamowienie 01A2B3C4 czeka w Krakow Rynek. Kod ABCDEFGHJK. Odbior do 25.11 21:00."
        );
    }
}
