//! Where a hold stands: the words stored and shown. Apart from the model, so the stock code
//! that counts open holds needs nothing else of holds.

crate::db::stored::stored_enum! {
    pub enum HoldStatus as "hold status" {
        Held,
        Released,
        Expired,
        /// The hold became an order's.
        Converted,
    }
}
