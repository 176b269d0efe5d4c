//! Email text and HTML for every event, in en, pl, es, ru and ar (right to left). Each
//! message carries what the customer needs at that moment: the store's name, address and
//! opening hours, the pickup code and deadline for a ready order, the tracking number for a
//! shipped one.

use super::locale::Lang;
use crate::orders::events::Event;

/// What an email may show. Times are already in the customer's zone and format.
#[derive(Debug, Clone, Default)]
pub struct EmailData {
    pub customer_name: Option<String>,
    pub order: String,
    pub store: String,
    pub address: Option<String>,
    /// One line per day, e.g. `("Mon", "09:00-21:00")`.
    pub opening_hours: Vec<(String, String)>,
    pub code: Option<String>,
    pub deadline: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    /// The pickup or curbside slot booked, e.g. `Mon 30 Nov 10:00-10:30`.
    pub slot: Option<String>,
    /// The shopper's pickup pass page, for a ready order.
    pub pass_url: Option<String>,
    /// The store on a map.
    pub map_url: Option<String>,
    /// The open-tracking pixel's address, where the deployment and the customer allow it.
    pub open_pixel: Option<String>,
    /// When the order's transfer is expected at the store, for an order on its way there.
    pub arrives: Option<String>,
    /// What a message not about an order is about: the product back in stock, or held.
    pub product: Option<String>,
    /// When a hold ends, for its reminder.
    pub until: Option<String>,
    /// Where the shopper acts on it: the shop's page to hold what is back in stock.
    pub action_url: Option<String>,
    /// One-click unsubscribe from marketing messages (back-in-stock alerts).
    pub unsubscribe_url: Option<String>,
}

/// The Content-ID the ready email's QR image goes by (`cid:` in its HTML).
pub const QR_CONTENT_ID: &str = "pickup-qr";

pub struct EmailContent {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Images the HTML shows inline, by Content-ID: the QR code of a ready order, as PNG.
    pub inline_png: Vec<(&'static str, Vec<u8>)>,
    /// For marketing messages: the one-click unsubscribe address (RFC 8058 headers).
    pub unsubscribe_url: Option<String>,
}

struct Words {
    hello: &'static str,
    hello_name: &'static str,
    order: &'static str,
    store: &'static str,
    address: &'static str,
    hours: &'static str,
    closed: &'static str,
    code: &'static str,
    deadline: &'static str,
    tracking: &'static str,
    slot: &'static str,
    arrives: &'static str,
    product: &'static str,
    until: &'static str,
    action_button: &'static str,
    unsubscribe: &'static str,
    show_code: &'static str,
    pass_button: &'static str,
    map_button: &'static str,
    thanks: &'static str,
    weekdays: [&'static str; 7],
}

fn words(lang: Lang) -> Words {
    match lang {
        Lang::En => Words {
            hello: "Hello,",
            hello_name: "Hello {name},",
            order: "Order",
            store: "Store",
            address: "Address",
            hours: "Opening hours",
            closed: "closed",
            code: "Pickup code",
            deadline: "Collect by",
            tracking: "Tracking",
            slot: "Your slot",
            arrives: "Expected at the store",
            product: "Product",
            until: "Held until",
            action_button: "Hold it now",
            unsubscribe: "Unsubscribe from stock alerts",
            show_code: "Show this at the counter",
            pass_button: "Open your pickup pass",
            map_button: "The store on a map",
            thanks: "Thank you for shopping with us.",
            weekdays: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        },
        Lang::Pl => Words {
            hello: "Dzień dobry,",
            hello_name: "Dzień dobry, {name},",
            order: "Zamówienie",
            store: "Sklep",
            address: "Adres",
            hours: "Godziny otwarcia",
            closed: "nieczynne",
            code: "Kod odbioru",
            deadline: "Odbiór do",
            tracking: "Numer przesyłki",
            slot: "Twój termin",
            arrives: "Dotrze do sklepu",
            product: "Produkt",
            until: "Zarezerwowane do",
            action_button: "Zarezerwuj teraz",
            unsubscribe: "Wypisz się z powiadomień o dostępności",
            show_code: "Pokaż to przy kasie",
            pass_button: "Otwórz przepustkę odbioru",
            map_button: "Sklep na mapie",
            thanks: "Dziękujemy za zakupy.",
            weekdays: ["pon.", "wt.", "śr.", "czw.", "pt.", "sob.", "niedz."],
        },
        Lang::Es => Words {
            hello: "Hola:",
            hello_name: "Hola, {name}:",
            order: "Pedido",
            store: "Tienda",
            address: "Dirección",
            hours: "Horario",
            closed: "cerrado",
            code: "Código de recogida",
            deadline: "Recógelo antes de",
            tracking: "Seguimiento",
            slot: "Tu franja horaria",
            arrives: "Llegará a la tienda",
            product: "Producto",
            until: "Reservado hasta",
            action_button: "Resérvalo ahora",
            unsubscribe: "Darse de baja de los avisos de stock",
            show_code: "Muéstralo en el mostrador",
            pass_button: "Abrir tu pase de recogida",
            map_button: "La tienda en el mapa",
            thanks: "Gracias por tu compra.",
            weekdays: ["lun.", "mar.", "mié.", "jue.", "vie.", "sáb.", "dom."],
        },
        Lang::Ru => Words {
            hello: "Здравствуйте!",
            hello_name: "Здравствуйте, {name}!",
            order: "Заказ",
            store: "Магазин",
            address: "Адрес",
            hours: "Часы работы",
            closed: "выходной",
            code: "Код получения",
            deadline: "Получить до",
            tracking: "Трек-номер",
            slot: "Ваше время",
            arrives: "Прибудет в магазин",
            product: "Товар",
            until: "Отложено до",
            action_button: "Отложить сейчас",
            unsubscribe: "Отписаться от уведомлений о наличии",
            show_code: "Покажите это на кассе",
            pass_button: "Открыть пропуск на получение",
            map_button: "Магазин на карте",
            thanks: "Спасибо за покупку.",
            weekdays: ["пн", "вт", "ср", "чт", "пт", "сб", "вс"],
        },
        Lang::Ar => Words {
            hello: "مرحبًا،",
            hello_name: "مرحبًا {name}،",
            order: "الطلب",
            store: "المتجر",
            address: "العنوان",
            hours: "ساعات العمل",
            closed: "مغلق",
            code: "رمز الاستلام",
            deadline: "الاستلام قبل",
            tracking: "رقم التتبع",
            slot: "موعدك",
            arrives: "يصل إلى المتجر",
            product: "المنتج",
            until: "محجوز حتى",
            action_button: "احجزه الآن",
            unsubscribe: "إلغاء الاشتراك في تنبيهات التوفر",
            show_code: "أظهر هذا عند الكاشير",
            pass_button: "افتح تصريح الاستلام",
            map_button: "المتجر على الخريطة",
            thanks: "شكرًا لتسوقك معنا.",
            weekdays: ["الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"],
        },
    }
}

/// The subject and the one sentence that says what happened.
fn message(lang: Lang, event: Event) -> (&'static str, &'static str) {
    use Event::*;
    use Lang::*;
    match (lang, event) {
        (En, OrderConfirmed) => {
            ("Order {order} confirmed", "We have your order and will let you know when it is ready.")
        }
        (En, OnItsWay) => ("Order {order} confirmed: on its way to your store", "Thank you for your order. Part of it is on its way to your store; we will tell you when everything is ready to collect."),
        (En, BackInStock) => ("Back in stock: {product}", "Good news: what you asked about is back. Hold it before it goes again."),
        (En, HoldReminder) => ("Your hold ends soon: {product}", "Your items are still held for you. Place your order before the hold ends, or extend it once."),
        (En, ReadyForPickup) => {
            ("Order {order} is ready for pickup", "Your order is waiting for you. Show the pickup code at the counter.")
        }
        (En, PickupReminder) => (
            "Reminder: order {order} is waiting",
            "Your order is still waiting for you. Please collect it before the deadline.",
        ),
        (En, Collected) => ("Order {order} collected", "You have collected your order."),
        (En, Shipped) => ("Order {order} is on its way", "Your order has been shipped."),
        (En, Delivered) => ("Order {order} delivered", "Your order has been delivered."),
        (En, Cancelled) => {
            ("Order {order} cancelled", "Your order has been cancelled and any payment will be returned.")
        }
        (En, Expired) => {
            ("Order {order} was not collected", "Your order was not collected in time, so it has been cancelled.")
        }
        (En, Returned) => (
            "Return for order {order} received",
            "We have received the items you returned. The refund goes back the way you paid.",
        ),
        (Pl, OrderConfirmed) => {
            ("Zamówienie {order} przyjęte", "Otrzymaliśmy zamówienie. Damy znać, gdy będzie gotowe.")
        }
        (Pl, OnItsWay) => ("Zamówienie {order} przyjęte: jest w drodze do sklepu", "Dziękujemy za zamówienie. Część jest w drodze do Twojego sklepu; damy znać, gdy całość będzie gotowa do odbioru."),
        (Pl, BackInStock) => ("Znów dostępne: {product}", "Dobra wiadomość: produkt, o który pytano, wrócił. Zarezerwuj go, zanim zniknie."),
        (Pl, HoldReminder) => ("Rezerwacja wkrótce wygaśnie: {product}", "Produkty wciąż na Ciebie czekają. Złóż zamówienie przed końcem rezerwacji albo przedłuż ją raz."),
        (Pl, ReadyForPickup) => {
            ("Zamówienie {order} czeka na odbiór", "Zamówienie czeka na Ciebie. Pokaż kod odbioru przy kasie.")
        }
        (Pl, PickupReminder) => {
            ("Przypomnienie: zamówienie {order} czeka", "Zamówienie wciąż na Ciebie czeka. Odbierz je przed terminem.")
        }
        (Pl, Collected) => ("Zamówienie {order} odebrane", "Zamówienie zostało odebrane."),
        (Pl, Shipped) => ("Zamówienie {order} jest w drodze", "Zamówienie zostało wysłane."),
        (Pl, Delivered) => ("Zamówienie {order} dostarczone", "Zamówienie zostało dostarczone."),
        (Pl, Cancelled) => {
            ("Zamówienie {order} anulowane", "Zamówienie zostało anulowane; ewentualna płatność zostanie zwrócona.")
        }
        (Pl, Expired) => (
            "Zamówienie {order} nie zostało odebrane",
            "Zamówienie nie zostało odebrane w terminie i zostało anulowane.",
        ),
        (Pl, Returned) => (
            "Zwrot z zamówienia {order} przyjęty",
            "Otrzymaliśmy zwrócone produkty. Pieniądze wrócą tą samą drogą, którą zapłacono.",
        ),
        (Es, OrderConfirmed) => {
            ("Pedido {order} confirmado", "Hemos recibido tu pedido y te avisaremos cuando esté listo.")
        }
        (Es, OnItsWay) => ("Pedido {order} confirmado: va de camino a tu tienda", "Gracias por tu pedido. Una parte va de camino a tu tienda; te avisaremos cuando todo esté listo para recoger."),
        (Es, BackInStock) => ("De nuevo disponible: {product}", "Buenas noticias: lo que pediste ha vuelto. Resérvalo antes de que se agote otra vez."),
        (Es, HoldReminder) => ("Tu reserva termina pronto: {product}", "Tus artículos siguen reservados. Haz tu pedido antes de que termine la reserva o amplíala una vez."),
        (Es, ReadyForPickup) => (
            "Tu pedido {order} está listo para recoger",
            "Tu pedido te espera. Muestra el código de recogida en el mostrador.",
        ),
        (Es, PickupReminder) => (
            "Recordatorio: tu pedido {order} te espera",
            "Tu pedido sigue esperándote. Recógelo antes de la fecha límite.",
        ),
        (Es, Collected) => ("Pedido {order} recogido", "Has recogido tu pedido."),
        (Es, Shipped) => ("Tu pedido {order} está en camino", "Tu pedido ha sido enviado."),
        (Es, Delivered) => ("Pedido {order} entregado", "Tu pedido ha sido entregado."),
        (Es, Cancelled) => ("Pedido {order} cancelado", "Tu pedido ha sido cancelado y se devolverá cualquier pago."),
        (Es, Expired) => ("Pedido {order} no recogido", "Tu pedido no se recogió a tiempo y ha sido cancelado."),
        (Es, Returned) => (
            "Devolución del pedido {order} recibida",
            "Hemos recibido los artículos devueltos. El reembolso irá al mismo medio de pago.",
        ),
        (Ru, OrderConfirmed) => ("Заказ {order} принят", "Мы получили ваш заказ и сообщим, когда он будет готов."),
        (Ru, OnItsWay) => ("Заказ {order} принят: он едет в ваш магазин", "Спасибо за заказ. Часть его едет в ваш магазин; мы сообщим, когда всё будет готово к получению."),
        (Ru, BackInStock) => ("Снова в наличии: {product}", "Хорошая новость: товар, о котором вы спрашивали, снова есть. Отложите его, пока он не закончился."),
        (Ru, HoldReminder) => ("Бронь скоро закончится: {product}", "Товары всё ещё отложены для вас. Оформите заказ до конца брони или продлите её один раз."),
        (Ru, ReadyForPickup) => {
            ("Заказ {order} готов к получению", "Ваш заказ ждёт вас. Покажите код получения на кассе.")
        }
        (Ru, PickupReminder) => {
            ("Напоминание: заказ {order} ждёт вас", "Ваш заказ всё ещё ждёт вас. Заберите его до указанного срока.")
        }
        (Ru, Collected) => ("Заказ {order} получен", "Вы получили свой заказ."),
        (Ru, Shipped) => ("Заказ {order} в пути", "Ваш заказ отправлен."),
        (Ru, Delivered) => ("Заказ {order} доставлен", "Ваш заказ доставлен."),
        (Ru, Cancelled) => ("Заказ {order} отменён", "Ваш заказ отменён; оплата, если была, будет возвращена."),
        (Ru, Expired) => ("Заказ {order} не был получен", "Заказ не был получен вовремя и отменён."),
        (Ru, Returned) => (
            "Возврат по заказу {order} принят",
            "Мы получили возвращённые товары. Деньги вернутся тем же способом, которым вы платили.",
        ),
        (Ar, OrderConfirmed) => ("تم تأكيد الطلب {order}", "استلمنا طلبك وسنخبرك عندما يصبح جاهزًا."),
        (Ar, OnItsWay) => ("تم تأكيد الطلب {order}: في الطريق إلى متجرك", "شكرًا لطلبك. جزء منه في الطريق إلى متجرك، وسنخبرك عندما يصبح كل شيء جاهزًا للاستلام."),
        (Ar, BackInStock) => ("متوفر من جديد: {product}", "خبر سار: المنتج الذي طلبته عاد. احجزه قبل أن ينفد مرة أخرى."),
        (Ar, HoldReminder) => ("ينتهي حجزك قريبًا: {product}", "ما زالت منتجاتك محجوزة لك. أكمل طلبك قبل انتهاء الحجز أو مدّده مرة واحدة."),
        (Ar, ReadyForPickup) => ("الطلب {order} جاهز للاستلام", "طلبك بانتظارك. أظهر رمز الاستلام عند الكاشير."),
        (Ar, PickupReminder) => {
            ("تذكير: الطلب {order} بانتظارك", "ما زال طلبك بانتظارك. يرجى استلامه قبل الموعد النهائي.")
        }
        (Ar, Collected) => ("تم استلام الطلب {order}", "لقد استلمت طلبك."),
        (Ar, Shipped) => ("الطلب {order} في الطريق", "تم شحن طلبك."),
        (Ar, Delivered) => ("تم توصيل الطلب {order}", "تم توصيل طلبك."),
        (Ar, Cancelled) => ("تم إلغاء الطلب {order}", "تم إلغاء طلبك وسيتم رد أي مبلغ مدفوع."),
        (Ar, Expired) => ("لم يتم استلام الطلب {order}", "لم يتم استلام طلبك في الموعد المحدد، لذا تم إلغاؤه."),
        (Ar, Returned) => {
            ("تم استلام مرتجع الطلب {order}", "استلمنا المنتجات التي أعدتها. سيُرد المبلغ بطريقة الدفع نفسها.")
        }
    }
}

/// Text for HTML: the five characters that could end it or open markup, escaped.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// What the customer acts on at that moment: the pickup code and deadline while the order
/// waits at the store, the tracking number once it travels.
fn facts(w: &Words, event: Event, data: &EmailData) -> Vec<(&'static str, String)> {
    let collectable = matches!(event, Event::ReadyForPickup | Event::PickupReminder);
    let travelling = matches!(event, Event::Shipped | Event::Delivered);
    let mut rows = Vec::new();
    let expected =
        matches!(event, Event::OrderConfirmed | Event::OnItsWay | Event::ReadyForPickup | Event::PickupReminder);
    if let Some(product) = &data.product {
        rows.push((w.product, product.clone()));
    }
    if let Some(until) = data.until.as_ref().filter(|_| event == Event::HoldReminder) {
        rows.push((w.until, until.clone()));
    }
    if let Some(arrives) = data.arrives.as_ref().filter(|_| event == Event::OnItsWay) {
        rows.push((w.arrives, arrives.clone()));
    }
    if let Some(slot) = data.slot.as_ref().filter(|_| expected) {
        rows.push((w.slot, slot.clone()));
    }
    if let Some(code) = data.code.as_ref().filter(|_| collectable) {
        rows.push((w.code, code.clone()));
    }
    if let Some(deadline) = data.deadline.as_ref().filter(|_| collectable) {
        rows.push((w.deadline, deadline.clone()));
    }
    if let Some(tracking) = data.tracking.as_ref().filter(|_| travelling) {
        let with_carrier = match &data.carrier {
            Some(carrier) => format!("{carrier} {tracking}"),
            None => tracking.clone(),
        };
        rows.push((w.tracking, with_carrier));
    }
    rows
}

/// A short message, for push notifications and webhook receivers: the subject as the title;
/// the sentence, the store and what to act on as the body.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ShortMessage {
    pub title: String,
    pub body: String,
    /// The language, BCP 47.
    pub lang: &'static str,
    /// `ltr`, or `rtl` for Arabic.
    pub dir: &'static str,
}

pub fn render_short(lang: Lang, event: Event, data: &EmailData) -> ShortMessage {
    let w = words(lang);
    let (subject, sentence) = message(lang, event);
    let mut body = format!("{sentence}\n{}: {}", w.store, data.store);
    for (label, value) in facts(&w, event, data) {
        body.push_str(&format!("\n{label}: {value}"));
    }
    let (dir, language) = (lang.dir(), lang.tag());
    ShortMessage { title: fill_subject(subject, data), body, lang: language, dir }
}

fn fill_subject(subject: &str, data: &EmailData) -> String {
    subject.replace("{order}", &data.order).replace("{product}", data.product.as_deref().unwrap_or(""))
}

/// Renders the email for an event: a plain-text part and an HTML part with the same content.
pub fn render_email(lang: Lang, event: Event, data: &EmailData) -> EmailContent {
    let w = words(lang);
    let (subject, sentence) = message(lang, event);
    let subject = fill_subject(subject, data);
    let greeting = match &data.customer_name {
        Some(name) => w.hello_name.replace("{name}", name),
        None => w.hello.to_string(),
    };
    let waiting = matches!(event, Event::OrderConfirmed | Event::ReadyForPickup | Event::PickupReminder);
    // A message not about an order has no order number to show.
    let mut rows: Vec<(&str, String)> = vec![(w.order, data.order.clone()), (w.store, data.store.clone())];
    rows.retain(|(_, value)| !value.is_empty());
    if let Some(address) = data.address.as_ref().filter(|_| waiting) {
        rows.push((w.address, address.clone()));
    }
    rows.extend(facts(&w, event, data));
    let hours: Vec<(String, String)> = data
        .opening_hours
        .iter()
        .filter(|_| waiting)
        .map(|(day, span)| {
            let index = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().position(|d| d == day);
            let day = index.map(|i| w.weekdays[i].to_string()).unwrap_or_else(|| day.clone());
            let span = if span.is_empty() { w.closed.to_string() } else { span.clone() };
            (day, span)
        })
        .collect();

    let collectable = matches!(event, Event::ReadyForPickup | Event::PickupReminder);
    let code = data.code.as_ref().filter(|_| collectable);
    let mut text = format!("{greeting}\n\n{sentence}\n\n");
    for (label, value) in &rows {
        text.push_str(&format!("{label}: {value}\n"));
    }
    if let Some(url) = data.pass_url.as_ref().filter(|_| collectable) {
        text.push_str(&format!("\n{}: {url}\n", w.pass_button));
    }
    if let Some(url) = data.map_url.as_ref().filter(|_| waiting) {
        text.push_str(&format!("{}: {url}\n", w.map_button));
    }
    if let Some(url) = &data.action_url {
        text.push_str(&format!("\n{}: {url}\n", w.action_button));
    }
    if !hours.is_empty() {
        text.push_str(&format!("\n{}:\n", w.hours));
        for (day, span) in &hours {
            text.push_str(&format!("  {day} {span}\n"));
        }
    }
    text.push_str(&format!("\n{}\n", w.thanks));

    let (dir, language) = (lang.dir(), lang.tag());
    let mut html = format!(
        "<!DOCTYPE html><html lang=\"{language}\" dir=\"{dir}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif\"><p>{}</p><p>{}</p>",
        escape(&subject),
        escape(&greeting),
        escape(sentence)
    );
    let mut inline_png = Vec::new();
    if let Some(code) = code {
        // What staff scan, first: the QR code (PNG: clients do not show SVG) and the code in
        // large type, which a text-only client shows in the plain part.
        html.push_str("<div id=\"pass\" style=\"text-align:center;margin:16px 0\">");
        if let Ok(png) = crate::orders::pickup::qr_png(code, 6) {
            // Shown at its own size: a 1-bit image stretched by a mail client blurs its modules.
            let side = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
            inline_png.push((QR_CONTENT_ID, png));
            html.push_str(&format!(
                "<img src=\"cid:{QR_CONTENT_ID}\" width=\"{side}\" height=\"{side}\" alt=\"{}: {}\" style=\"display:block;margin:0 auto\">",
                escape(w.code),
                escape(code)
            ));
        }
        html.push_str(&format!(
            "<p dir=\"ltr\" style=\"font-family:monospace;font-size:32px;letter-spacing:4px;font-weight:bold;margin:8px 0\">{}</p>\
             <p style=\"margin:0 0 12px\">{}</p>",
            escape(code),
            escape(w.show_code)
        ));
        let button =
            "display:inline-block;margin:4px;padding:12px 20px;border-radius:6px;text-decoration:none;font-weight:bold";
        if let Some(url) = &data.pass_url {
            html.push_str(&format!(
                "<a href=\"{}\" style=\"{button};background:#0b57d0;color:#ffffff\">{}</a>",
                escape(url),
                escape(w.pass_button)
            ));
        }
        if let Some(url) = &data.map_url {
            html.push_str(&format!(
                "<a href=\"{}\" style=\"{button};background:#e8eaed;color:#15181d\">{}</a>",
                escape(url),
                escape(w.map_button)
            ));
        }
        html.push_str("</div>");
    }
    html.push_str("<table>");
    for (label, value) in &rows {
        html.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>", escape(label), escape(value)));
    }
    html.push_str("</table>");
    if let Some(url) = data.map_url.as_ref().filter(|_| waiting && code.is_none()) {
        html.push_str(&format!("<p><a href=\"{}\">{}</a></p>", escape(url), escape(w.map_button)));
    }
    if !hours.is_empty() {
        html.push_str(&format!("<h3>{}</h3><table>", escape(w.hours)));
        for (day, span) in &hours {
            html.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>", escape(day), escape(span)));
        }
        html.push_str("</table>");
    }
    if let Some(url) = &data.action_url {
        html.push_str(&format!(
            "<p><a href=\"{}\" style=\"display:inline-block;padding:12px 20px;border-radius:6px;text-decoration:none;font-weight:bold;background:#0b57d0;color:#ffffff\">{}</a></p>",
            escape(url),
            escape(w.action_button)
        ));
    }
    html.push_str(&format!("<p>{}</p>", escape(w.thanks)));
    if let Some(url) = &data.unsubscribe_url {
        text.push_str(&format!("\n{}: {url}\n", w.unsubscribe));
        html.push_str(&format!(
            "<p style=\"font-size:12px\"><a href=\"{}\">{}</a></p>",
            escape(url),
            escape(w.unsubscribe)
        ));
    }
    if let Some(pixel) = &data.open_pixel {
        html.push_str(&format!(
            "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0\">",
            escape(pixel)
        ));
    }
    html.push_str("</body></html>");
    EmailContent { subject, text, html, inline_png, unsubscribe_url: data.unsubscribe_url.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LANGS: [Lang; 5] = [Lang::En, Lang::Pl, Lang::Es, Lang::Ru, Lang::Ar];
    const EVENTS: &[Event] = <Event as strum::VariantArray>::VARIANTS;

    fn data() -> EmailData {
        EmailData {
            customer_name: Some("Ann <&>".into()),
            order: "7F3A9C21".into(),
            store: "Warsaw Centre".into(),
            address: Some("Marszałkowska 1, Warszawa".into()),
            opening_hours: vec![("mon".into(), "09:00-21:00".into()), ("sun".into(), String::new())],
            code: Some("ABCDEFGHJK".into()),
            deadline: Some("25.11 21:00".into()),
            carrier: Some("DHL".into()),
            tracking: Some("JJD0001".into()),
            slot: Some("Mon 30 Nov 10:00-10:30".into()),
            pass_url: Some("https://shop.example/pass/7F3A9C21-0123456789ABCDEF".into()),
            map_url: Some("https://www.openstreetmap.org/?mlat=52.2&mlon=21.0".into()),
            open_pixel: None,
            arrives: Some("Tue 1 Dec 09:00".into()),
            product: None,
            until: None,
            action_url: None,
            unsubscribe_url: None,
        }
    }

    #[test]
    fn every_event_and_language_renders_with_its_details() {
        for lang in LANGS {
            for &event in EVENTS {
                if matches!(event, Event::BackInStock | Event::HoldReminder) {
                    continue; // not about an order: `notices_name_the_product_not_an_order`
                }
                let email = render_email(lang, event, &data());
                assert!(email.subject.contains("7F3A9C21"), "{lang:?} {event:?}");
                let collectable = matches!(event, Event::ReadyForPickup | Event::PickupReminder);
                let travelling = matches!(event, Event::Shipped | Event::Delivered);
                for part in [&email.text, &email.html] {
                    assert!(part.contains("7F3A9C21") && part.contains("Warsaw Centre"), "{lang:?} {event:?}");
                    assert_eq!(part.contains("ABCDEFGHJK"), collectable, "the code only while it can be collected");
                    assert_eq!(part.contains("25.11 21:00"), collectable);
                    assert_eq!(part.contains("JJD0001"), travelling, "tracking once it travels");
                    assert_eq!(part.contains("Marsza"), collectable || event == Event::OrderConfirmed);
                }
                assert!(email.html.contains("Ann &lt;&amp;&gt;"), "HTML is escaped");
                // A ready order's email shows what staff scan, with the pass and the map.
                assert_eq!(email.inline_png.len(), usize::from(collectable), "{lang:?} {event:?}");
                assert_eq!(email.html.contains("cid:pickup-qr"), collectable);
                assert_eq!(email.html.contains("/pass/7F3A9C21-"), collectable);
                assert_eq!(email.text.contains("/pass/7F3A9C21-"), collectable, "text-only clients get the link");
                assert_eq!(email.html.contains("dir=\"rtl\""), lang == Lang::Ar);
            }
        }
    }

    #[test]
    fn notices_name_the_product_not_an_order() {
        let notice = EmailData {
            customer_name: Some("Ann".into()),
            store: "Warsaw Centre".into(),
            product: Some("Espresso cups".into()),
            until: Some("30.11 18:45".into()),
            action_url: Some("https://shop.example/hold?sku=CUP".into()),
            unsubscribe_url: Some("https://cc.example/unsubscribe/abc".into()),
            ..Default::default()
        };
        for lang in LANGS {
            let alert = render_email(lang, Event::BackInStock, &notice);
            assert!(alert.subject.contains("Espresso cups"), "{lang:?}: {}", alert.subject);
            assert_eq!(alert.unsubscribe_url.as_deref(), Some("https://cc.example/unsubscribe/abc"));
            for part in [&alert.text, &alert.html] {
                assert!(part.contains("https://cc.example/unsubscribe/abc"), "{lang:?}: one click away");
                assert!(part.contains("https://shop.example/hold?sku=CUP"), "{lang:?}: the link to hold it");
                assert!(!part.contains("30.11 18:45"), "{lang:?}: an alert has no hold's end");
            }
            let reminder = render_email(
                lang,
                Event::HoldReminder,
                &EmailData { unsubscribe_url: None, action_url: None, ..notice.clone() },
            );
            assert!(reminder.text.contains("30.11 18:45") && reminder.text.contains("Espresso cups"), "{lang:?}");
            assert!(reminder.unsubscribe_url.is_none(), "a reminder is not marketing");
        }
    }

    #[test]
    fn languages_say_it_in_their_own_words() {
        let ready = |lang| render_email(lang, Event::ReadyForPickup, &data());
        assert_eq!(ready(Lang::Pl).subject, "Zamówienie 7F3A9C21 czeka na odbiór");
        assert!(ready(Lang::Ru).text.starts_with("Здравствуйте, Ann <&>!"));
        assert!(ready(Lang::Es).text.contains("Código de recogida: ABCDEFGHJK"));
        assert!(ready(Lang::En).text.contains("  Sun closed"));
        assert!(ready(Lang::Ar).text.contains("الأحد مغلق"));
    }
}
