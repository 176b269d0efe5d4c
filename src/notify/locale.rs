//! The languages messages are written in, and how one is chosen: the customer's locale, else
//! the store's, else English.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Pl,
    Ru,
    Ar,
    Es,
}

impl Lang {
    /// The language of a BCP 47 tag (`pl-PL`, `pl`), if we write it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let language = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        Some(match language.as_str() {
            "en" => Lang::En,
            "pl" => Lang::Pl,
            "ru" => Lang::Ru,
            "ar" => Lang::Ar,
            "es" => Lang::Es,
            _ => return None,
        })
    }

    /// How messages in this language write a date and time (`chrono` format).
    pub fn time_format(&self) -> &'static str {
        if *self == Lang::En {
            "%a %d %b %H:%M"
        } else {
            "%d.%m %H:%M"
        }
    }

    /// The customer's language if we write it, else the store's, else English.
    pub fn resolve(customer: Option<&str>, store: Option<&str>) -> Lang {
        customer.and_then(Lang::from_tag).or_else(|| store.and_then(Lang::from_tag)).unwrap_or(Lang::En)
    }

    /// The BCP 47 language code, for `lang` attributes.
    pub fn tag(&self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Pl => "pl",
            Lang::Ru => "ru",
            Lang::Ar => "ar",
            Lang::Es => "es",
        }
    }

    /// The writing direction, for `dir` attributes: right to left for Arabic.
    pub fn dir(&self) -> &'static str {
        if *self == Lang::Ar {
            "rtl"
        } else {
            "ltr"
        }
    }

    /// Written in the Latin alphabet (so SMS can be folded into GSM-7).
    pub fn is_latin(&self) -> bool {
        matches!(self, Lang::En | Lang::Pl | Lang::Es)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_to_the_store_then_english() {
        assert_eq!(Lang::resolve(Some("pl-PL"), Some("es-ES")), Lang::Pl);
        assert_eq!(Lang::resolve(Some("de-DE"), Some("es-ES")), Lang::Es);
        assert_eq!(Lang::resolve(None, Some("ar")), Lang::Ar);
        assert_eq!(Lang::resolve(Some("fr"), None), Lang::En);
        assert!(!Lang::Ru.is_latin() && !Lang::Ar.is_latin() && Lang::Pl.is_latin());
    }
}
