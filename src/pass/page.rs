//! The pass page's HTML and its words in the five languages. No script, no inline style: the
//! policy below refuses both, and the page needs neither.

use super::{Opened, Pass};
use crate::notify::locale::Lang;
use crate::notify::templates::escape;
use crate::orders::status::Status;

/// Styles from this server, forms back to it, nothing else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub const STYLESHEET: &[u8] = include_bytes!("assets/pass.css");

struct Words {
    title: &'static str,
    show: &'static str,
    order: &'static str,
    store: &'static str,
    address: &'static str,
    map: &'static str,
    today: &'static str,
    closed: &'static str,
    deadline: &'static str,
    slot: &'static str,
    here_title: &'static str,
    bay: &'static str,
    vehicle: &'static str,
    here: &'static str,
    arrived: &'static str,
    spent: &'static str,
    missing: &'static str,
}

fn words(lang: Lang) -> Words {
    match lang {
        Lang::En => Words {
            title: "Your pickup pass",
            show: "Show this code at the counter",
            order: "Order",
            store: "Store",
            address: "Address",
            map: "Open the map",
            today: "Open today",
            closed: "closed",
            deadline: "Collect by",
            slot: "Your slot",
            here_title: "Collecting at the kerb?",
            bay: "Bay",
            vehicle: "Your car (colour, make, plate)",
            here: "I'm here",
            arrived: "We know you are here. Someone is on the way with your order.",
            spent: "This pass is no longer valid: order {order} is {status}.",
            missing: "There is no such pickup pass. Check the link in your message.",
        },
        Lang::Pl => Words {
            title: "Twoja przepustka odbioru",
            show: "Pokaż ten kod przy kasie",
            order: "Zamówienie",
            store: "Sklep",
            address: "Adres",
            map: "Otwórz mapę",
            today: "Dziś otwarte",
            closed: "nieczynne",
            deadline: "Odbiór do",
            slot: "Twój termin",
            here_title: "Odbiór przy krawężniku?",
            bay: "Stanowisko",
            vehicle: "Twój samochód (kolor, marka, numer)",
            here: "Jestem na miejscu",
            arrived: "Wiemy, że jesteś. Ktoś już niesie Twoje zamówienie.",
            spent: "Ta przepustka jest już nieważna: zamówienie {order} jest {status}.",
            missing: "Nie ma takiej przepustki. Sprawdź link w wiadomości.",
        },
        Lang::Es => Words {
            title: "Tu pase de recogida",
            show: "Muestra este código en el mostrador",
            order: "Pedido",
            store: "Tienda",
            address: "Dirección",
            map: "Abrir el mapa",
            today: "Abierto hoy",
            closed: "cerrado",
            deadline: "Recógelo antes de",
            slot: "Tu franja horaria",
            here_title: "¿Recogida en la acera?",
            bay: "Plaza",
            vehicle: "Tu coche (color, marca, matrícula)",
            here: "Ya estoy aquí",
            arrived: "Sabemos que estás aquí. Alguien va con tu pedido.",
            spent: "Este pase ya no es válido: el pedido {order} está {status}.",
            missing: "No existe ese pase de recogida. Revisa el enlace de tu mensaje.",
        },
        Lang::Ru => Words {
            title: "Ваш пропуск на получение",
            show: "Покажите этот код на кассе",
            order: "Заказ",
            store: "Магазин",
            address: "Адрес",
            map: "Открыть карту",
            today: "Сегодня открыто",
            closed: "закрыто",
            deadline: "Получить до",
            slot: "Ваше время",
            here_title: "Получаете у тротуара?",
            bay: "Место",
            vehicle: "Ваша машина (цвет, марка, номер)",
            here: "Я на месте",
            arrived: "Мы знаем, что вы здесь. Сотрудник уже несёт заказ.",
            spent: "Этот пропуск больше не действует: заказ {order} — {status}.",
            missing: "Такого пропуска нет. Проверьте ссылку в сообщении.",
        },
        Lang::Ar => Words {
            title: "تصريح الاستلام الخاص بك",
            show: "أظهر هذا الرمز عند الكاشير",
            order: "الطلب",
            store: "المتجر",
            address: "العنوان",
            map: "افتح الخريطة",
            today: "مفتوح اليوم",
            closed: "مغلق",
            deadline: "الاستلام قبل",
            slot: "موعدك",
            here_title: "الاستلام من السيارة؟",
            bay: "الموقف",
            vehicle: "سيارتك (اللون، الطراز، رقم اللوحة)",
            here: "أنا هنا",
            arrived: "نعلم أنك هنا. أحد موظفينا في الطريق إليك بطلبك.",
            spent: "لم يعد هذا التصريح صالحًا: الطلب {order} {status}.",
            missing: "لا يوجد تصريح استلام بهذا الرابط. تحقق من الرابط في رسالتك.",
        },
    }
}

/// A status in the page's language, for "this pass is spent".
fn status_words(lang: Lang, status: Status) -> &'static str {
    use Lang::*;
    use Status::*;
    match (lang, status) {
        (En, _) => crate::orders::status::words(status),
        (Pl, Collected) => "odebrane",
        (Pl, Cancelled) => "anulowane",
        (Pl, Expired) => "nieodebrane w terminie",
        (Pl, _) => "niegotowe do odbioru",
        (Es, Collected) => "recogido",
        (Es, Cancelled) => "cancelado",
        (Es, Expired) => "caducado",
        (Es, _) => "sin estar listo para recoger",
        (Ru, Collected) => "получен",
        (Ru, Cancelled) => "отменён",
        (Ru, Expired) => "не получен вовремя",
        (Ru, _) => "не готов к выдаче",
        (Ar, Collected) => "تم استلامه",
        (Ar, Cancelled) => "أُلغي",
        (Ar, Expired) => "انتهت مهلته",
        (Ar, _) => "ليس جاهزًا للاستلام",
    }
}

fn shell(lang: Lang, title: &str, body: &str) -> String {
    let (code, dir) = match lang {
        Lang::En => ("en", "ltr"),
        Lang::Pl => ("pl", "ltr"),
        Lang::Es => ("es", "ltr"),
        Lang::Ru => ("ru", "ltr"),
        Lang::Ar => ("ar", "rtl"),
    };
    format!(
        "<!DOCTYPE html><html lang=\"{code}\" dir=\"{dir}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{}</title>\
         <link rel=\"stylesheet\" href=\"/pass/assets/pass.css\"></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

/// The page for what a link opened.
pub fn render(opened: &Opened, token: &str) -> String {
    match opened {
        Opened::Waiting(pass) => waiting(pass, token),
        Opened::Spent { lang, number, status } => {
            let w = words(*lang);
            let text = w.spent.replace("{order}", number).replace("{status}", status_words(*lang, *status));
            shell(
                *lang,
                w.title,
                &format!("<h1>{}</h1><p class=\"card spent\" id=\"spent\">{}</p>", escape(w.title), escape(&text)),
            )
        }
    }
}

/// The page for a link that is no pass at all, in English (there is no shopper to ask).
pub fn missing() -> String {
    notice("missing", words(Lang::En).missing)
}

/// The page for a request the pass refused (a form that could not be read, say), in English.
pub fn problem(text: &str) -> String {
    notice("problem", text)
}

fn notice(id: &str, text: &str) -> String {
    let w = words(Lang::En);
    shell(
        Lang::En,
        w.title,
        &format!("<h1>{}</h1><p class=\"card spent\" id=\"{id}\">{}</p>", escape(w.title), escape(text)),
    )
}

fn waiting(pass: &Pass, token: &str) -> String {
    let w = words(pass.lang);
    let mut body = format!("<h1>{}</h1>", escape(w.title));
    body.push_str(&format!(
        "<section class=\"card\" aria-label=\"{}\"><div class=\"qr\" id=\"qr\" role=\"img\" aria-label=\"{} {}\">{}</div>\
         <p class=\"code\" id=\"code\">{}</p><p class=\"hint\">{}</p></section>",
        escape(w.show),
        escape(w.show),
        escape(&pass.code),
        pass.qr_svg,
        escape(&pass.code),
        escape(w.show)
    ));
    let mut facts = vec![(w.order, pass.number.clone()), (w.store, pass.store.clone())];
    if let Some(address) = &pass.address {
        facts.push((w.address, address.clone()));
    }
    if let Some(today) = &pass.today {
        facts.push((w.today, if today.is_empty() { w.closed.to_string() } else { today.clone() }));
    }
    if let Some(deadline) = &pass.deadline {
        facts.push((w.deadline, deadline.clone()));
    }
    if let Some(slot) = &pass.slot {
        facts.push((w.slot, slot.clone()));
    }
    body.push_str("<section class=\"card\"><dl id=\"facts\">");
    for (label, value) in facts {
        body.push_str(&format!("<dt>{}</dt><dd>{}</dd>", escape(label), escape(&value)));
    }
    body.push_str("</dl>");
    if let Some(map) = &pass.map_url {
        body.push_str(&format!(
            "<a class=\"button\" id=\"map\" href=\"{}\" rel=\"noopener noreferrer\">{}</a>",
            escape(map),
            escape(w.map)
        ));
    }
    body.push_str("</section>");
    if pass.curbside {
        match &pass.arrived {
            Some(_) => body.push_str(&format!(
                "<p class=\"card notice\" id=\"arrived\" role=\"status\">{}</p>",
                escape(w.arrived)
            )),
            None => body.push_str(&format!(
                "<section class=\"card\"><h2>{}</h2><form method=\"post\" action=\"/pass/{}/arrival\" id=\"here\">\
                 <label for=\"bay\">{}</label><input id=\"bay\" name=\"bay\" maxlength=\"32\" autocomplete=\"off\">\
                 <label for=\"vehicle\">{}</label><input id=\"vehicle\" name=\"vehicle\" maxlength=\"100\">\
                 <button type=\"submit\">{}</button></form></section>",
                escape(w.here_title),
                escape(token),
                escape(w.bay),
                escape(w.vehicle),
                escape(w.here)
            )),
        }
    }
    shell(pass.lang, w.title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(lang: Lang) -> Pass {
        Pass {
            lang,
            number: "7F3A9C21".into(),
            code: "K7M2Q9TX4B".into(),
            qr_svg: "<svg></svg>".into(),
            store: "Warsaw <Centre>".into(),
            address: Some("Marszałkowska 1".into()),
            map_url: Some("https://www.openstreetmap.org/?mlat=1&mlon=2".into()),
            today: Some(String::new()),
            deadline: Some("25.11 21:00".into()),
            slot: None,
            curbside: true,
            arrived: None,
        }
    }

    #[test]
    fn the_page_escapes_and_carries_nothing_the_policy_refuses() {
        for lang in [Lang::En, Lang::Pl, Lang::Es, Lang::Ru, Lang::Ar] {
            let html = render(&Opened::Waiting(Box::new(pass(lang))), "7F3A9C21-0123456789ABCDEF");
            assert!(html.contains("Warsaw &lt;Centre&gt;"), "{lang:?}");
            assert!(!html.contains("<script") && !html.contains("style="), "{lang:?}");
            assert!(html.contains("action=\"/pass/7F3A9C21-0123456789ABCDEF/arrival\""));
            assert_eq!(html.contains("dir=\"rtl\""), lang == Lang::Ar);
            assert!(html.contains(words(lang).closed), "a closed day says so");
        }
    }
}
