//! Enums stored as text. Each has one string mapping, derived (`strum`, snake_case, the same
//! words serde uses on the wire), and a stored value the code does not know is an internal
//! error: a row is never read as some default state.

/// Gives a strum-derived enum `as_str` and `from_stored`. `$what` names the column in the
/// error, e.g. "order status".
macro_rules! stored_enum {
    ($name:ty, $what:literal) => {
        impl $name {
            /// The word stored in the database (and sent on the wire).
            pub fn as_str(&self) -> &'static str {
                (*self).into()
            }

            /// Reads a stored word; one this code does not know is an internal error.
            pub fn from_stored(value: &str) -> Result<Self, $crate::error::ApiError> {
                value.parse().map_err(|_| {
                    $crate::error::ApiError::Internal(format!(
                        concat!("unknown ", $what, " {:?} in the database"),
                        value
                    ))
                })
            }
        }
    };
}
pub(crate) use stored_enum;

#[cfg(test)]
mod tests {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString)]
    #[strum(serialize_all = "snake_case")]
    enum Colour {
        DeepRed,
        Blue,
    }
    stored_enum!(Colour, "colour");

    #[test]
    fn words_round_trip_and_unknown_ones_are_errors() {
        assert_eq!(Colour::DeepRed.as_str(), "deep_red");
        assert_eq!(Colour::from_stored("blue").unwrap(), Colour::Blue);
        let error = Colour::from_stored("green").unwrap_err();
        assert!(matches!(&error, crate::error::ApiError::Internal(m) if m.contains("colour \"green\"")), "{error}");
    }

    /// Every stored word reads back as its variant, and is the word the API sends for it.
    fn words_agree<T>()
    where
        T: strum::VariantArray
            + serde::Serialize
            + Copy
            + Into<&'static str>
            + std::str::FromStr
            + PartialEq
            + std::fmt::Debug,
    {
        for variant in T::VARIANTS {
            let word: &'static str = (*variant).into();
            assert_eq!(word.parse::<T>().ok(), Some(*variant));
            assert_eq!(serde_json::to_value(variant).unwrap(), serde_json::json!(word));
        }
    }

    #[test]
    fn stored_words_are_the_wire_words() {
        words_agree::<crate::orders::status::Status>();
        words_agree::<crate::orders::status::Fulfilment>();
        words_agree::<crate::reservations::model::HoldStatus>();
        words_agree::<crate::catalog::model::LocationKind>();
        words_agree::<crate::orders::events::Event>();
        words_agree::<crate::notify::outbox::DeliveryStatus>();
        words_agree::<crate::notify::outbox::ChannelName>();
    }
}
