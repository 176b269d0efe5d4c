//! Enums stored as text. Each has one string mapping, derived (`strum`, snake_case, the same
//! words serde uses on the wire), and a stored value the code does not know is an internal
//! error: a row is never read as some default state.

/// Declares an enum stored as text: one word per variant (snake_case, the same on the wire
/// through serde and in the database through strum), `as_str`, and `from_stored`, which
/// reads a word this code does not know as an internal error. `as "what"` names the column
/// in that error, e.g. "order status". Doc comments on the enum and its variants carry over.
macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $what:literal {
            $( $(#[$variant_meta:meta])* $variant:ident ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            serde::Serialize,
            serde::Deserialize,
            utoipa::ToSchema,
            strum::IntoStaticStr,
            strum::EnumString,
            strum::VariantArray,
        )]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant ),*
        }

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
    stored_enum! {
        enum Colour as "colour" {
            DeepRed,
            Blue,
        }
    }

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
